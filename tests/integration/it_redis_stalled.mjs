// A Redis that stops answering without closing the connection (SIGSTOP: a
// stuck server, a full-swap host) must still fail closed: every call queued
// on the connection gets 503 once the command deadline passes, nothing is
// forwarded, the connection is dropped and remade, and the proxy serves again
// when Redis does. The deadline is one timer per connection, armed at the
// oldest command's deadline (store/redis.c): the second round checks it still
// wakes after a run of answered commands moved the queue's head many times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, varied } from '../lib/harness.mjs';

const w = new World();
let key;
before(async () => {
  await w.start();
  key = w.issue().key;
});
after(async () => {
  w.redis.proc.kill('SIGCONT');
  await w.stop();
});

const email = () => varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function untilServed() {
  for (let i = 0; i < 100; i++) {
    if ((await w.call(key, 'POST', '/emails', email())).status === 200) return true;
    await sleep(50);
  }
  return false;
}

for (const round of [1, 2]) {
  test(`Redis stalled (round ${round}) -> every queued call 503, nothing forwarded; resumed -> serves`, async () => {
    // Answered commands first, so the queue's head has moved past many.
    for (let i = 0; i < 20; i++) assert.equal((await w.call(key, 'POST', '/emails', email())).status, 200);
    const n = w.fake.received.length;
    const deadlines = (w.proxy.log.match(/a command passed its deadline/g) ?? []).length;
    w.redis.proc.kill('SIGSTOP');
    try {
      const res = await Promise.all([0, 1, 2].map(() => w.call(key, 'POST', '/emails', email())));
      for (const r of res) errorShape(assert, r, 503, 'service_unavailable');
      assert.equal(w.fake.received.length, n, 'nothing forwarded while Redis is stalled');
      assert.equal((w.proxy.log.match(/a command passed its deadline/g) ?? []).length, deadlines + 1,
        'the connection stuck behind the command was dropped once');
    } finally {
      w.redis.proc.kill('SIGCONT');
    }
    assert.ok(await untilServed(), 'serves again once Redis answers');
    assert.equal(w.fake.received.length, n + 1);
    assert.equal(w.proxy.proc.exitCode, null, 'daemon stays up');
  });
}
