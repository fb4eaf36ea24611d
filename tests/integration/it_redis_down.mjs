// Fail closed: with Redis gone, every call is 503 service_unavailable with
// Retry-After: 1 and nothing is forwarded; the daemon stays up and serves
// again by itself once Redis is back (scripts reloaded after the restart).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { World, errorShape, SENDCAPD, varied } from '../lib/harness.mjs';

const w = new World();
let key;
before(async () => {
  await w.start();
  key = w.issue().key;
});
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('Redis down -> 503, nothing forwarded; back -> serves again', async () => {
  assert.equal((await w.call(key, 'POST', '/emails', email)).status, 200);
  const n = w.fake.received.length;
  await w.redis.stop();
  for (let i = 0; i < 5; i++) {
    const res = await w.call(key, 'POST', '/emails', email);
    errorShape(assert, res, 503, 'service_unavailable');
    assert.equal(res.headers.get('retry-after'), '1');
  }
  assert.equal(w.fake.received.length, n, 'nothing forwarded while Redis is down');
  assert.equal(w.proxy.proc.exitCode, null, 'daemon stays up');

  await w.redis.start(); // same port, same data dir (AOF)
  const t0 = Date.now();
  let status = 0;
  while (Date.now() - t0 < 5000) {
    status = (await w.call(key, 'POST', '/emails', email)).status;
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, 200, 'recovers after Redis returns');
  const took = Date.now() - t0;
  assert.ok(took < 2000, `recovered in ${took} ms`);
  assert.equal(w.fake.received.length, n + 1);
});

test('sendcapd refuses to start without Redis, with one clear line', () => {
  const r = spawnSync(SENDCAPD, ['--redis', 'redis://127.0.0.1:1/0', '--listen', '127.0.0.1:0'], { env: w.env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach redis/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('sendcapd refuses to start with the wrong master key', () => {
  const r = spawnSync(SENDCAPD, ['--listen', '127.0.0.1:0'], {
    env: { ...w.env, SENDCAP_MASTER_KEY_FILE: '', SENDCAP_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /master key is not the one/);
});

test('sendcapd refuses to start with no master key at all', () => {
  const r = spawnSync(SENDCAPD, [], { env: { PATH: process.env.PATH, SENDCAP_REDIS_URL: w.redis.url }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no master key/);
});
