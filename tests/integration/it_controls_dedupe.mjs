// SPEC §5 --dedupe-window (default 10m): the same send again is 409
// duplicate_send naming the earlier request and email ids; a changed subject
// is a new send; an Idempotency-Key replay is not a duplicate and reserves
// nothing; the window expires; a batch with one duplicate element is refused
// whole; a send Resend refused may be sent again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });

const email = (subject = 'Welcome') => ({ from: 'agent@example.com', to: ['a@example.com', 'b@example.com'], subject, html: '<p>hi</p>' });
const used = (k) => w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).split('\n').filter(Boolean)
  .reduce((n, c) => n + Number(w.redis.raw('GET', c).trim()), 0);

test('the same send twice: 200, then 409 naming the earlier ids, through another instance', async () => {
  const k = w.issue(['--daily-cap', '100']);
  w.fake.reset();
  const first = await w.call(k.key, 'POST', '/emails', email());
  assert.equal(first.status, 200, first.text);
  // Recipient order and case do not make it another send.
  const again = await w.call(k.key, 'POST', '/emails', { ...email(), to: ['B@example.com', 'a@example.com'] }, { proxy: w.proxies[1] });
  errorShape(assert, again, 409, 'duplicate_send');
  assert.ok(again.json.message.includes(first.headers.get('x-request-id')), again.json.message);
  assert.ok(again.json.message.includes(first.json.id), again.json.message);
  assert.equal(w.fake.received.length, 1);
  assert.equal(used(k), 2, 'the duplicate reserved nothing');
  // A changed subject is another send.
  const other = await w.call(k.key, 'POST', '/emails', email('Welcome!'));
  assert.equal(other.status, 200, other.text);
  assert.equal(w.fake.received.length, 2);
});

test('an Idempotency-Key replay is forwarded and reserves nothing', async () => {
  const k = w.issue(['--daily-cap', '100']);
  w.fake.reset();
  const h = { headers: { 'Idempotency-Key': 'welcome-42' } };
  const a = await w.call(k.key, 'POST', '/emails', email(), h);
  assert.equal(a.status, 200, a.text);
  const b = await w.call(k.key, 'POST', '/emails', email(), { ...h, proxy: w.proxies[1] });
  assert.equal(b.status, 200, b.text);
  assert.equal(w.fake.received.length, 2, 'forwarded, so Resend replays');
  assert.equal(used(k), 2, 'the replay reserved nothing');
  // Without the key it is a duplicate.
  errorShape(assert, await w.call(k.key, 'POST', '/emails', email()), 409, 'duplicate_send');
});

test('the window expires (2 s window)', async () => {
  const k = w.issue();
  w.setControls(k, { dedupe_window_ms: 2000 });
  assert.equal((await w.call(k.key, 'POST', '/emails', email())).status, 200);
  errorShape(assert, await w.call(k.key, 'POST', '/emails', email()), 409, 'duplicate_send');
  // Wait for Redis to expire the record (its PX), not for a wall-clock figure.
  const rec = w.redis.raw('KEYS', `sc:dd:${k.id}:*`).trim();
  for (let i = 0; i < 100 && w.redis.raw('EXISTS', rec).trim() === '1'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await w.call(k.key, 'POST', '/emails', email())).status, 200);
  // 0 turns it off.
  w.setControls(k, { dedupe_window_ms: 0 });
  assert.equal((await w.call(k.key, 'POST', '/emails', email())).status, 200);
  assert.equal((await w.call(k.key, 'POST', '/emails', email())).status, 200);
});

test('a batch with one duplicate element: 409 naming it, nothing sent', async () => {
  const k = w.issue(['--daily-cap', '100']);
  assert.equal((await w.call(k.key, 'POST', '/emails', email('Receipt'))).status, 200);
  w.fake.reset();
  const r = await w.call(k.key, 'POST', '/emails/batch', [email('One'), email('Two'), email('Three'), email('Receipt')]);
  errorShape(assert, r, 409, 'duplicate_send');
  assert.match(r.json.message, /batch\[3\]/);
  assert.equal(w.fake.received.length, 0);
  assert.equal(used(k), 2);
  // Two equal elements of one batch.
  const r2 = await w.call(k.key, 'POST', '/emails/batch', [email('Four'), email('Four')]);
  errorShape(assert, r2, 409, 'duplicate_send');
  assert.match(r2.json.message, /batch\[1\] repeats batch\[0\]/);
  // The refused batch set nothing: its first elements go now.
  const ok = await w.call(k.key, 'POST', '/emails/batch', [email('One'), email('Two')]);
  assert.equal(ok.status, 200, ok.text);
});

test('a send Resend refused may be sent again', async () => {
  const k = w.issue();
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'no' } });
  assert.equal((await w.call(k.key, 'POST', '/emails', email('Retry'))).status, 422);
  assert.equal((await w.call(k.key, 'POST', '/emails', email('Retry'))).status, 200);
  errorShape(assert, await w.call(k.key, 'POST', '/emails', email('Retry')), 409, 'duplicate_send');
});
