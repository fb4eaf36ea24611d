// The agent-safety controls of a key record (SPEC §5, the schema of issue
// #12): what `key issue` stores, what `key rotate` copies, and what `key list`
// and `key show` print of the counters the daemon keeps under the schema's
// names (set here with redis-cli, as call.lua would leave them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

const record = (id) => {
  const a = w.redis.raw('HGETALL', `sc:vk:${w.redis.raw('GET', `sc:id:${id}`).trim()}`).trim().split('\n');
  const o = {};
  for (let i = 0; i + 1 < a.length; i += 2) o[a[i]] = a[i + 1];
  return o;
};
const redisMs = () => {
  const [s, us] = w.redis.raw('TIME').trim().split('\n').map(Number);
  return s * 1000 + Math.floor(us / 1000);
};

test('key issue stores every control under the schema names; --json shows them', () => {
  const k = w.issue(['--daily-cap', '500', '--monthly-cap', '10000', '--per-recipient-cap', '3', '--rate', '50/s',
    '--dedupe-window', '2m', '--alert-at', '100,80,90,80']);
  assert.equal(k.monthly_cap, 10000);
  assert.equal(k.per_recipient_cap, 3);
  assert.deepEqual(k.rate, { limit: 50, window_ms: 1000, text: '50/s' });
  assert.equal(k.dedupe_window_ms, 120000);
  assert.equal(k.dedupe_window, '2m');
  assert.deepEqual(k.alert_at, [80, 90, 100]);
  const r = record(k.id);
  assert.equal(r.daily_cap, '500');
  assert.equal(r.monthly_cap, '10000');
  assert.equal(r.per_recipient_cap, '3');
  assert.equal(r.rate_limit, '50');
  assert.equal(r.rate_window_ms, '1000');
  assert.equal(r.dedupe_window_ms, '120000');
  assert.equal(r.alert_at, '80,90,100');

  // Defaults: no caps, no rate (and no window), dedupe absent = the 10m
  // default, alert_at absent = SPEC §6's 80,100.
  const d = w.issue();
  const rd = record(d.id);
  for (const f of ['monthly_cap', 'per_recipient_cap', 'rate_limit']) assert.equal(rd[f], '', f);
  assert.equal(rd.rate_window_ms, undefined);
  assert.equal(rd.dedupe_window_ms, undefined);
  assert.equal(rd.alert_at, undefined);
  assert.deepEqual(d.alert_at, [80, 100]);
  const off = w.issue(['--alert-at', 'none']);
  assert.equal(record(off.id).alert_at, '', 'none is stored as no percents');
  assert.deepEqual(off.alert_at, []);
  assert.equal(d.dedupe_window_ms, 600000);
  assert.equal(d.rate, null);
  assert.equal(d.monthly_cap, null);
  assert.equal(record(w.issue(['--dedupe-window', '0']).id).dedupe_window_ms, '0', '0 turns it off');
  assert.equal(record(w.issue(['--rate', '7/h']).id).rate_window_ms, '3600000');
  assert.equal(record(w.issue(['--rate', '7/m']).id).rate_window_ms, '60000');
});

test('bad control values exit 2 with one line, and issue nothing', () => {
  const before = w.redis.raw('ZCARD', 'sc:keys');
  for (const args of [['--monthly-cap', '-1'], ['--monthly-cap', 'lots'], ['--per-recipient-cap', '0'], ['--rate', '50'],
    ['--rate', '0/s'], ['--rate', '5/d'], ['--rate', '/s'], ['--rate', '1.5/s'], ['--dedupe-window', '500ms'],
    ['--dedupe-window', '8d'], ['--dedupe-window', 'x'], ['--alert-at', '0'], ['--alert-at', '101'], ['--alert-at', '80,,90'],
    ['--alert-at', '1,2,3,4,5,6,7,8,9,10,11'], ['--alert-at', ''], ['--monthly-cap', '1', '--monthly-cap', '2']]) {
    const r = w.cli(['key', 'issue', '--upstream', 'prod', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sendcap: [^\n]*\n$/, `${args.join(' ')}: one line`);
  }
  assert.equal(w.redis.raw('ZCARD', 'sc:keys'), before);
});

test('key rotate copies every control', () => {
  const k = w.issue(['--monthly-cap', '70', '--per-recipient-cap', '2', '--rate', '5/m', '--dedupe-window', '0', '--alert-at', '50']);
  const r = w.cli(['key', 'rotate', k.id, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const nk = JSON.parse(r.stdout);
  for (const f of ['monthly_cap', 'per_recipient_cap', 'rate', 'dedupe_window_ms', 'alert_at']) assert.deepEqual(nk[f], k[f], f);
  assert.equal(record(nk.id).family, k.id, 'the counters follow the family');
});

test('key list and key show print each control and its usage from the counters', () => {
  const k = w.issue(['--name', 'usage-bot', '--daily-cap', '500', '--monthly-cap', '10000', '--rate', '40/h',
    '--per-recipient-cap', '3', '--alert-at', '80,100']);
  const now = redisMs();
  const day = Math.floor(now / 86400000);
  const d = new Date(now);
  const month = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  w.redis.raw('SET', `sc:cnt:${k.id}:${day}`, '17');
  w.redis.raw('SET', `sc:mcnt:${k.id}:${month}`, '1234');
  // Two requests in the hour's window, one older than it (not counted).
  w.redis.raw('ZADD', `sc:rate:${k.id}`, String(now - 10000), 'req_a', String(now - 20000), 'req_b',
    String(now - 2 * 3600000), 'req_old');
  // Another family's counters are not this key's.
  w.redis.raw('SET', `sc:mcnt:key_other:${month}`, '999');

  const show = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(show.used_today, 17);
  assert.deepEqual(show.usage, {
    daily: { used: 17, limit: 500 }, monthly: { used: 1234, limit: 10000 }, rate: { used: 2, limit: 40, window_ms: 3600000 },
  });
  const text = w.cli(['key', 'show', k.id]).stdout;
  assert.match(text, /monthly cap:\s+10000\n/);
  assert.match(text, /per recipient:\s+3 a day/);
  assert.match(text, /rate:\s+40\/h\n/);
  assert.match(text, /dedupe window:\s+10m\n/);
  assert.match(text, /alert at:\s+80,100\n/);
  assert.match(text, /used today:\s+17 of 500/);
  assert.match(text, /used in month:\s+1234 of 10000/);
  assert.match(text, /rate window:\s+2 of 40 requests in the last 1h/);

  const lines = w.cli(['key', 'list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  const mine = lines.find((l) => l.id === k.id);
  assert.equal(mine.usage.monthly.used, 1234);
  assert.equal(mine.usage.rate.used, 2);
  const table = w.cli(['key', 'list']).stdout.split('\n');
  assert.match(table[0], /^ID\s+NAME\s+STATUS\s+UPSTREAM\s+TODAY\/CAP\s+MONTH\/CAP\s+RATE\s+LIMITS\s+EXPIRES\s+LAST USED\s+STALE$/);
  const row = table.find((l) => l.startsWith(k.id));
  assert.match(row, /usage-bot\s+active\s+prod\s+17\/500\s+1234\/10000\s+2\/40\/h\s+500\/d 10000\/mo 40\/h rcpt:3\/d dedupe:10m alert:80,100\s/);

  // A key without controls: dashes, and dedupe off shown as such.
  const plain = w.issue(['--dedupe-window', '0']);
  const prow = w.cli(['key', 'list']).stdout.split('\n').find((l) => l.startsWith(plain.id));
  assert.match(prow, /active\s+prod\s+0\/-\s+0\/-\s+-\s+dedupe:off\s/);
  assert.equal(JSON.parse(w.cli(['key', 'show', plain.id, '--json']).stdout).usage.rate, null);
});
