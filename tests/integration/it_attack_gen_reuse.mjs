// A key update that a Redis failover loses (replication is asynchronous)
// and a different update made after it must not share a gen: sendcapd
// trusts its cached copy of the record, caps included (call.lua's view,
// issue #15), for as long as the record's gen is the one it cached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = (to) => ({ from: 'agent@example.com', to, subject: `s ${to}`, text: 'hi' });

test('an update lost in a failover, then another: the proxy does not keep the lost one', async () => {
  const k = w.issue(['--daily-cap', '100']);
  const hash = w.redis.raw('GET', `sc:id:${k.id}`).trim();
  const genBefore = w.redis.raw('HGET', `sc:vk:${hash}`, 'gen').trim();
  // The update the failover will lose; the proxy caches it with a send.
  assert.equal(w.cli(['key', 'update', k.id, '--daily-cap', '50']).code, 0);
  assert.equal((await w.call(k.key, 'POST', '/emails', email('a@example.com'))).status, 200);
  // The failover: the new master has the record as it was before that update.
  w.redis.raw('HSET', `sc:vk:${hash}`, 'gen', genBefore, 'daily_cap', '100');
  // The operator, seeing the cap at 100, sets it again, lower.
  assert.equal(w.cli(['key', 'update', k.id, '--daily-cap', '1']).code, 0);
  const r = await w.call(k.key, 'POST', '/emails', email('b@example.com'));
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.equal(w.fake.received.length, 1, 'only the first send reached Resend');
});
