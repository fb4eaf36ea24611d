// The admin trail (SPEC §7): every CLI change writes a record with Redis's
// time, the action, the target, the changed fields' old and new values and
// the actor (--actor, else the OS user@host); `log query --admin` shows it
// in table, json and csv; two CLI processes changing keys at once keep one
// chain that `log verify` accepts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { userInfo, hostname } from 'node:os';
import { World, SENDCAP } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const admin = (args = []) => {
  const r = w.cli(['log', 'query', '--admin', '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
};

test('key update --daily-cap: old and new values and the actor, in every format', () => {
  const k = w.issue(['--daily-cap', '5']);
  const r = w.cli(['--actor', 'alice@ops', 'key', 'update', k.id, '--daily-cap', '10']);
  assert.equal(r.code, 0, r.stderr);
  const rec = admin().filter((x) => x.target === k.id && x.action === 'key.update');
  assert.equal(rec.length, 1);
  assert.equal(rec[0].actor, 'alice@ops');
  assert.deepEqual(rec[0].changes, { daily_cap: { old: 5, new: 10 } });
  assert.match(rec[0].time, /^\d{4}-\d\d-\d\dT/);
  const table = w.cli(['log', 'query', '--admin']).stdout;
  assert.match(table, new RegExp(`alice@ops\\s+key\\.update\\s+${k.id}\\s+daily_cap: 5 → 10`));
  const csv = w.cli(['log', 'query', '--admin', '--format', 'csv']).stdout.trim().split('\n');
  assert.equal(csv[0], 'time,actor,action,target,changes,seq');
  assert.ok(csv.some((l) => l.includes(`alice@ops,key.update,${k.id},"{""daily_cap"":{""old"":5,""new"":10}}"`)), csv.join('\n'));
  // A no-op update changes nothing: no record.
  assert.equal(w.cli(['key', 'update', k.id, '--daily-cap', '10']).code, 0);
  assert.equal(admin().filter((x) => x.target === k.id && x.action === 'key.update').length, 1);
});

test('without --actor: the OS user and host', () => {
  const k = w.issue();
  const rec = admin().find((x) => x.target === k.id && x.action === 'key.issue');
  assert.equal(rec.actor, `${userInfo().username}@${hostname()}`);
  assert.equal(rec.changes.upstream.new, 'prod');
  assert.equal(rec.changes.upstream.old, null);
  // --actor is checked like any setting.
  assert.equal(w.cli(['--actor', '', 'key', 'list']).code, 2);
  assert.equal(w.cli(['--actor', 'a', '--actor', 'b', 'key', 'list']).code, 2);
});

test('every kind of change is recorded', () => {
  const k = w.issue();
  const rot = JSON.parse(w.cli(['key', 'rotate', k.id, '--json']).stdout);
  assert.equal(w.cli(['key', 'revoke', rot.id]).code, 0);
  assert.equal(w.cli(['key', 'revoke', rot.id]).code, 0); // already: no second record
  assert.equal(w.cli(['upstream', 'add', 'trail'], { input: 're_trail_key_0001\n' }).code, 0);
  assert.equal(w.cli(['upstream', 'rotate', 'trail'], { input: 're_trail_key_0002\n' }).code, 0);
  assert.equal(w.cli(['upstream', 'remove', 'trail']).code, 0);
  const wh = JSON.parse(w.cli(['webhook', 'add', 'https://hooks.example.com/T0/B0/tokenpart', '--json']).stdout);
  assert.equal(w.cli(['webhook', 'remove', wh.id]).code, 0);
  const all = admin();
  const of = (action, target) => all.filter((x) => x.action === action && x.target === target);
  assert.deepEqual(of('key.rotate', k.id)[0].changes.successor, { old: null, new: rot.id });
  assert.equal(of('key.revoke', rot.id).length, 1);
  assert.deepEqual(of('upstream.add', 'trail')[0].changes, { fingerprint: { old: null, new: 're_…0001' } });
  assert.deepEqual(of('upstream.rotate', 'trail')[0].changes, { fingerprint: { old: 're_…0001', new: 're_…0002' } });
  assert.deepEqual(of('upstream.remove', 'trail')[0].changes, { fingerprint: { old: 're_…0002', new: null } });
  // The URL without its path (a chat webhook's path is its credential).
  assert.equal(of('webhook.add', wh.id)[0].changes.url.new, 'https://hooks.example.com/…');
  assert.equal(of('webhook.remove', wh.id).length, 1);
  const seqs = all.map((x) => x.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'one chain, seq 1..n in order');
  assert.equal(w.cli(['log', 'verify']).code, 0);
});

test('--since and --until bound the rows; other filters are refused', () => {
  assert.equal(admin(['--since', '1h']).length, admin().length);
  assert.equal(admin(['--until', '2000-01-01T00:00:00Z']).length, 0);
  assert.equal(w.cli(['log', 'query', '--admin', '--key', 'key_x']).code, 2);
});

// Four processes, each changing its own key n times, all at once.
test('CLI processes changing keys at once keep one valid chain', async () => {
  const n = 12;
  const before = admin().length;
  const ks = [1, 2, 3, 4].map(() => w.issue(['--daily-cap', '1']));
  const run = (k, tag) => new Promise((resolve) => {
    const cmds = [];
    for (let i = 2; i < n + 2; i++) cmds.push(`"${SENDCAP}" --actor ${tag} key update ${k.id} --daily-cap ${i} || exit 1`);
    const p = spawn('sh', ['-c', cmds.join('\n')], { env: w.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, err }));
  });
  const rs = await Promise.all(ks.map((k, i) => run(k, `p${i + 1}`)));
  for (const r of rs) assert.equal(r.code, 0, r.err);
  const all = admin();
  assert.equal(all.length, before + 4 + 4 * n);
  for (const tag of ['p1', 'p2', 'p3', 'p4']) assert.equal(all.filter((x) => x.actor === tag).length, n);
  assert.deepEqual(all.map((x) => x.seq), all.map((_, i) => i + 1));
  const v = w.cli(['log', 'verify']);
  assert.equal(v.code, 0, v.stdout);
  assert.doesNotMatch(v.stdout, /admin/, 'an intact trail adds no line');
});
