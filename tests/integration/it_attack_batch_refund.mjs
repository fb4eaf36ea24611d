// A permissive batch gives back only the elements Resend lists as errors,
// each once: an answer that repeats an index (or names one out of range)
// must not give back sends that went out.  The counter is read from Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = (to) => ({ from: 'a@example.com', to, subject: 's', text: 't' });

function counter(k) {
  const keys = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).trim().split('\n').filter(Boolean);
  return keys.length ? Number(w.redis.raw('GET', keys[0]).trim()) : 0;
}

test('duplicate errors[].index entries are refunded once', async () => {
  const k = w.issue(['--daily-cap', '3']);
  w.fake.next({
    status: 200,
    body: {
      data: [{ id: 'e-ok-1' }, { id: 'e-ok-2' }],
      errors: [{ index: 0, message: 'bad' }, { index: 0, message: 'bad' }, { index: 0, message: 'bad' },
        { index: 7, message: 'out of range' }, { index: -1, message: 'negative' }],
    },
  });
  const r = await w.call(k.key, 'POST', '/emails/batch',
    [email(['a@example.com']), email(['b@example.com']), email(['c@example.com'])],
    { headers: { 'x-batch-validation': 'permissive' } });
  assert.equal(r.status, 200, r.text);
  await w.waitForLog(1, ['--key', k.id]);
  assert.equal(counter(k), 2, 'three reserved, element 0 given back once');
  // So one more fits, and a second does not.
  assert.equal((await w.call(k.key, 'POST', '/emails', email(['d@example.com']))).status, 200);
  errorShape(assert, await w.call(k.key, 'POST', '/emails', email(['e@example.com'])), 429, 'daily_quota_exceeded');
});
