// An agent retrying a send with its Idempotency-Key must not use up its cap
// (SPEC §3): a repeat with the same body reserves nothing while the earlier
// send holds its reservation, and is forwarded so Resend replays; once the
// earlier one was given back (Resend refused it), the repeat reserves anew.
// A different body under the same key is a new send.  The counter is read
// from Redis; what reached Resend from the fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = (extra = {}) => ({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't', ...extra });
const send = (k, idem, body = email()) =>
  w.call(k.key, 'POST', '/emails', body, { headers: idem ? { 'idempotency-key': idem } : {} });

// The family's counter for today (a new key's family is its id).
function counter(k) {
  const keys = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).trim().split('\n').filter(Boolean);
  assert.ok(keys.length <= 1, keys.join(','));
  return keys.length ? Number(w.redis.raw('GET', keys[0]).trim()) : 0;
}

test('a repeat of an Idempotency-Key with the same body is forwarded and reserves nothing', async () => {
  const k = w.issue(['--daily-cap', '1']);
  assert.equal((await send(k, 'K')).status, 200);
  assert.equal(counter(k), 1);
  const n = w.fake.received.length;
  const r = await send(k, 'K');
  assert.equal(r.status, 200, `a replay is not refused for the cap: ${r.text}`);
  assert.equal(w.fake.received.length, n + 1, 'the replay reached Resend');
  assert.equal(w.fake.received.at(-1).headers['idempotency-key'], `${k.id}:K`);
  assert.equal(counter(k), 1, 'nothing reserved again');
  // A new key, or the same key with another body, is a new send: over the cap.
  errorShape(assert, await send(k, 'K2'), 429, 'daily_quota_exceeded');
  errorShape(assert, await send(k, 'K', email({ subject: 'other' })), 429, 'daily_quota_exceeded');
  errorShape(assert, await send(k, null), 429, 'daily_quota_exceeded');
  assert.equal(w.fake.received.length, n + 1, 'none of those reached Resend');
  assert.equal(counter(k), 1);
});

test('once Resend refused the first send, its repeat reserves anew', async () => {
  const k = w.issue(['--daily-cap', '1']);
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'bad' } });
  assert.equal((await send(k, 'R')).status, 422);
  // The refund is queued before the answer is written; wait until it landed.
  await w.waitForLog(1, ['--key', k.id]);
  assert.equal(counter(k), 0, 'given back');
  assert.equal((await send(k, 'R')).status, 200);
  assert.equal(counter(k), 1, 'the repeat reserved anew');
  // ... and now holds the reservation: its own repeat is a replay.
  assert.equal((await send(k, 'R')).status, 200);
  assert.equal(counter(k), 1);
  errorShape(assert, await send(k, 'R2'), 429, 'daily_quota_exceeded');
});

test('a repeat of a send that was itself a replay is still a replay (one reservation)', async () => {
  const k = w.issue(['--daily-cap', '2']);
  for (let i = 0; i < 5; i++) assert.equal((await send(k, 'M')).status, 200);
  assert.equal(counter(k), 1);
  // Resend refusing a replay gives nothing back: the first send still holds it.
  w.fake.next({ status: 409, body: { statusCode: 409, name: 'invalid_idempotent_request', message: 'x' } });
  assert.equal((await send(k, 'M')).status, 409);
  await w.waitForLog(6, ['--key', k.id]);
  assert.equal(counter(k), 1);
  assert.equal((await send(k, 'M')).status, 200, 'still a replay');
  assert.equal(counter(k), 1);
});

test('a repeat while the first send is in flight reserves like a new send', async () => {
  // Were it a replay then, and Resend refused the first (all given back)
  // but sent the repeat, an email would go out with nothing reserved.
  const k = w.issue(['--daily-cap', '1']);
  w.fake.next({ hang: true });
  const first = send(k, 'F');
  for (let i = 0; i < 200 && w.fake.hanging.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(w.fake.hanging.length, 1, 'the first send is held by Resend');
  const n = w.fake.received.length;
  errorShape(assert, await send(k, 'F'), 429, 'daily_quota_exceeded');
  assert.equal(w.fake.received.length, n, 'the repeat did not go out unreserved');
  const res = w.fake.hanging.pop();
  res.writeHead(422, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ statusCode: 422, name: 'validation_error', message: 'bad' }));
  assert.equal((await first).status, 422);
  await w.waitForLog(2, ['--key', k.id]);
  assert.equal(counter(k), 0, 'all given back');
});
