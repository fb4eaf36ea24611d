// The sweep's key.expiring marker must hold for any expires_at the record
// carries, not only a bare run of digits.  A record whose expires_at reads
// as a number but is written otherwise (here "<ms>.0", as a restore script
// that went through a float writes it) never matched its own marker, so
// every sweep fired key.expiring again: an event and an owner notice per
// sweep interval, for ever.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { until } from '../lib/webhook-receiver.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 1, proxyArgs: ['--sweep-interval', '1s'] }); });
after(async () => { await w.stop(); });

const expiring = (id) => w.redis.raw('XRANGE', 'sc:events', '-', '+').split('\n')
  .filter((l, i, a) => l === 'key.expiring' && a[i + 2] === id).length;

test('an expires_at written as "<ms>.0" fires key.expiring once', async () => {
  const k = w.issue(['--expires-in', '20d']);
  const hash = w.redis.raw('GET', `sc:id:${k.id}`).trim();
  const exp = w.redis.raw('HGET', `sc:vk:${hash}`, 'expires_at').trim();
  w.redis.raw('HSET', `sc:vk:${hash}`, 'expires_at', `${exp}.0`);
  assert.ok(await until(() => expiring(k.id) === 1, 15000), 'the first sweep fires it');
  // Several more sweeps (one a second): none fires it again.
  assert.ok(Number(w.redis.raw('PTTL', 'sc:lease:sweep').trim()) > 0, 'an instance sweeps');
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(expiring(k.id), 1, 'key.expiring fired again for the same expiry');
});
