// `sendcap doctor` (issue #16 item 7): one line per check, each failure
// with its fix, exit 0/1.  Against the harness's Redis (noeviction, AOF on)
// every check passes; against a deliberately misconfigured one
// (allkeys-lru, AOF off) exactly those two fail.  --upstream calls
// GET /domains at the fake Resend with each real key: what reached it is
// asserted, and no key is ever printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { World, Redis, freePort } from '../lib/harness.mjs';

const w = new World();
let bad;
before(async () => {
  await w.start({ proxies: 0 });
  bad = await new Redis(w.dir + '/bad', { args: ['--maxmemory-policy', 'allkeys-lru', '--appendonly', 'no'] });
  (await import('node:fs')).mkdirSync(bad.dir);
  await bad.start();
});
after(async () => { await bad?.stop(); await w.stop(); });

// The fake Resend runs in this process: the CLI must not block its loop.
const cliAsync = (args, env) => w.cliAsync(args, { env });
const lines = (r) => r.stdout.trimEnd().split('\n');
const failing = (r) => lines(r).filter((l) => l.startsWith('FAIL')).map((l) => l.slice(6, 24).trim());

test('a well-set Redis: every check ok, exit 0', () => {
  const r = w.cli(['doctor']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ls = lines(r);
  assert.ok(ls.every((l) => /^ok {4}\S/.test(l)), r.stdout);
  for (const name of ['master key', 'redis', 'redis version', 'maxmemory-policy', 'aof', 'maxmemory', 'scripts', 'clock', 'master key check', 'upstream prod']) {
    assert.ok(ls.some((l) => l.slice(6).startsWith(name + ' ')), `${name} in\n${r.stdout}`);
  }
  assert.match(r.stdout, /maxmemory-policy\s+noeviction/);
  assert.match(r.stdout, /upstream prod\s+re_\S+ decrypts/);
});

test('a misconfigured Redis: eviction policy and AOF fail, each with its fix, exit 1', () => {
  // The same master key on a Redis where nothing is sealed yet.
  const r = w.cli(['doctor'], { env: { SENDCAP_REDIS_URL: bad.url } });
  assert.equal(r.code, 1, r.stdout);
  assert.deepEqual(failing(r), ['maxmemory-policy', 'aof']);
  assert.match(r.stdout, /^FAIL  maxmemory-policy\s+allkeys-lru; fix: set 'maxmemory-policy noeviction' in redis\.conf/m);
  assert.match(r.stdout, /^FAIL  aof\s+off; fix: set 'appendonly yes' in redis\.conf/m);
  // Fixed as the line says, the same Redis passes.
  bad.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  bad.cli('CONFIG', 'SET', 'appendonly', 'yes');
  const again = w.cli(['doctor'], { env: { SENDCAP_REDIS_URL: bad.url } });
  assert.equal(again.code, 0, again.stdout);
});

test('maxmemory headroom, master key mode and check value, a key that does not open, no Redis', async () => {
  bad.cli('CONFIG', 'SET', 'maxmemory', '1000000');
  let r = w.cli(['doctor'], { env: { SENDCAP_REDIS_URL: bad.url } });
  // At the limit Redis refuses even the scripts that list upstreams.
  assert.deepEqual(failing(r), ['maxmemory', 'upstreams']);
  assert.match(r.stdout, /^FAIL  maxmemory\s+[\d.]+ of 1\.0 MiB used \(\d+%\); fix: raise maxmemory/m);
  bad.cli('CONFIG', 'SET', 'maxmemory', '0');

  const loose = path.join(w.dir, 'loose.key');
  copyFileSync(w.env.SENDCAP_MASTER_KEY_FILE, loose);
  chmodSync(loose, 0o644);
  r = w.cli(['doctor'], { env: { SENDCAP_MASTER_KEY_FILE: loose } });
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^FAIL  master key file\\s+${loose} is mode 0644: others can read it; fix: chmod 600 ${loose}$`, 'm'));

  const other = path.join(w.dir, 'other.key');
  writeFileSync(other, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
  r = w.cli(['doctor'], { env: { SENDCAP_MASTER_KEY_FILE: other } });
  assert.deepEqual(failing(r), ['master key check', 'upstream prod']);
  assert.match(r.stdout, /^FAIL  upstream prod\s+re_\S+ does not decrypt: .*; fix: 'sendcap upstream rotate NAME'/m);

  const saved = w.redis.raw('HGET', 'sc:up:prod', 'sealed').trim();
  w.redis.cli('HSET', 'sc:up:prod', 'sealed', saved.slice(0, -8) + 'AAAAAAA=');
  r = w.cli(['doctor']);
  assert.deepEqual(failing(r), ['upstream prod']);
  w.redis.cli('HSET', 'sc:up:prod', 'sealed', saved);

  r = w.cli(['doctor'], { env: { SENDCAP_REDIS_URL: `redis://127.0.0.1:${await freePort()}/0` } });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^FAIL  redis\s+not reachable; fix: start Redis/m);
});

test('--upstream: GET /domains with each real key; a key Resend refuses fails', async () => {
  w.fake.reset();
  const add = w.cli(['upstream', 'add', 'stale'], { input: 're_NotKnownToResend123\n' });
  assert.equal(add.code, 0, add.stderr);
  const r = await cliAsync(['doctor', '--upstream'], { SENDCAP_UPSTREAM_URL: w.fake.url });
  assert.equal(r.code, 1, r.stdout);
  assert.deepEqual(failing(r), ['resend stale']);
  assert.match(r.stdout, /^ok    resend prod\s+re_\S+: GET \/domains 200, the key works$/m);
  assert.match(r.stdout, /^FAIL  resend stale\s+re_\S+: GET \/domains answered 401: Resend does not accept this key; fix:/m);
  const got = w.fake.received.map((e) => `${e.method} ${e.url} ${e.headers.authorization}`).sort();
  assert.deepEqual(got, [`GET /domains Bearer ${w.realKey}`, 'GET /domains Bearer re_NotKnownToResend123'].sort());
  assert.ok(!r.stdout.includes(w.realKey) && !r.stderr.includes(w.realKey));
  assert.ok(!r.stdout.includes('re_NotKnownToResend123'));
  // without --upstream nothing reaches Resend
  w.fake.reset();
  assert.equal((await cliAsync(['doctor'], { SENDCAP_UPSTREAM_URL: w.fake.url })).code, 0); // stale decrypts: only Resend refuses it
  assert.equal(w.fake.received.length, 0);
  assert.equal(w.cli(['doctor', '--bogus']).code, 2);
});
