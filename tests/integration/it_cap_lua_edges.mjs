// The daily cap is decided by call.lua alone (issue #11: its C twin was
// deleted), so its edges are tested here through a real sendcapd and Redis:
// the cap reached exactly, one over, cap 0, and a counter already past the
// cap (as after a lowered cap).  Each refusal is a 429 whose send never
// reached Resend and whose record says daily_cap; a from-required refusal
// is recorded as invalid_body (one reason vocabulary, policy/reason.c).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = (to = 'a@example.com') => ({ from: 'agent@example.com', to, subject: 'hi', text: 'hi' });
const sentTo = () => w.fake.received.map((r) => String(r.body));

test('cap 3: three single sends pass, the fourth is refused and not sent', async () => {
  const k = w.issue(['--daily-cap', '3']);
  w.fake.reset();
  for (let i = 0; i < 3; i++) {
    const r = await w.call(k.key, 'POST', '/emails', email(`u${i}@example.com`));
    assert.equal(r.status, 200, r.text);
  }
  const r = await w.call(k.key, 'POST', '/emails', email('over@example.com'));
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.match(r.json.message, /has used 3 of its 3 sends today and this request needs 1/);
  assert.equal(r.headers.get('ratelimit-remaining'), '0');
  assert.equal(w.fake.received.length, 3, 'Resend got exactly the cap');
  assert.ok(!sentTo().some((s) => s.includes('over@example.com')), 'the refused send never reached Resend');
  const rows = await w.waitForLog(4, ['--key', k.id]);
  assert.equal(rows.filter((x) => x.reason === 'daily_cap').length, 1);
  assert.equal(rows.filter((x) => x.reason === 'ok').length, 3);
});

test('a send of two with one left is refused whole; one then fits exactly', async () => {
  const k = w.issue(['--daily-cap', '2']);
  w.fake.reset();
  let r = await w.call(k.key, 'POST', '/emails', email('a@example.com'));
  assert.equal(r.status, 200, r.text);
  r = await w.call(k.key, 'POST', '/emails', email(['b@example.com', 'c@example.com']));
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.equal(r.headers.get('ratelimit-remaining'), '1');
  r = await w.call(k.key, 'POST', '/emails', email('d@example.com'));
  assert.equal(r.status, 200, r.text);
  assert.equal(w.fake.received.length, 2);
  assert.ok(!sentTo().some((s) => s.includes('b@example.com')));
});

test('cap 0 refuses the first send, and nothing reaches Resend', async () => {
  const k = w.issue(['--daily-cap', '0']);
  w.fake.reset();
  const r = await w.call(k.key, 'POST', '/emails', email());
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.equal(r.headers.get('ratelimit-limit'), '0');
  assert.equal(r.headers.get('ratelimit-remaining'), '0');
  assert.equal(w.fake.received.length, 0);
});

test('a counter already past the cap refuses, remaining 0, nothing sent', async () => {
  const k = w.issue(['--daily-cap', '3']);
  w.fake.reset();
  let r = await w.call(k.key, 'POST', '/emails', email());
  assert.equal(r.status, 200, r.text);
  const counters = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).split('\n').filter(Boolean);
  assert.equal(counters.length, 1);
  w.redis.raw('SET', counters[0], '5'); // as if the cap had been lowered below what was used
  r = await w.call(k.key, 'POST', '/emails', email('late@example.com'));
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.match(r.json.message, /has used 5 of its 3 sends today/);
  assert.equal(r.headers.get('ratelimit-remaining'), '0');
  assert.equal(w.fake.received.length, 1);
  assert.equal(w.redis.raw('GET', counters[0]).trim(), '5', 'a refusal reserves nothing');
});

test('a send without from on a from-listed key is recorded as invalid_body', async () => {
  const k = w.issue(['--from-domain', 'example.com']);
  w.fake.reset();
  const r = await w.call(k.key, 'POST', '/emails', { to: 'a@example.com', subject: 'hi', text: 'hi' });
  errorShape(assert, r, 422, 'validation_error');
  assert.equal(w.fake.received.length, 0);
  const rows = await w.waitForLog(1, ['--key', k.id]);
  assert.equal(rows[0].reason, 'invalid_body');
  assert.equal(rows[0].decision, 'denied');
});

// The caps are checked on the counts their INCRBYs answer (issue #15), so a
// refused call's increments must be undone in the same step: a counter it
// started is gone, one it raised is back, and nothing else it would write
// (intent, dedupe record) exists.
const counters = (k) => Object.fromEntries(['sc:cnt', 'sc:mcnt', 'sc:rcnt'].flatMap((p) =>
  w.redis.raw('KEYS', `${p}:${k.id}:*`).split('\n').filter(Boolean)
    .map((key) => [key, w.redis.raw('GET', key).trim()])));

test('a per-recipient refusal after another address counted leaves every counter as it was', async () => {
  const k = w.issue(['--daily-cap', '10', '--monthly-cap', '100', '--per-recipient-cap', '1']);
  assert.equal((await w.call(k.key, 'POST', '/emails', email('a@example.com'))).status, 200);
  await w.waitForLog(1, ['--key', k.id]);
  const before = counters(k);
  assert.equal(Object.keys(before).length, 3, JSON.stringify(before)); // day, month, a@
  const sent = w.fake.received.length;
  // b@ is counted first (a counter the call starts), then a@ is over its cap.
  const r = await w.call(k.key, 'POST', '/emails', email(['b@example.com', 'a@example.com']));
  errorShape(assert, r, 429, 'recipient_quota_exceeded');
  assert.equal(w.fake.received.length, sent, 'not forwarded');
  assert.deepEqual(counters(k), before, 'no counter moved, none was left behind');
  await w.waitForLog(2, ['--key', k.id]);
  assert.equal(w.redis.raw('ZCARD', 'sc:intents').trim(), '0', 'no intent of the refused call');
  assert.equal(w.redis.raw('KEYS', `sc:dd:${k.id}:*`).split('\n').filter(Boolean).length, 1,
    'the dedupe record of the first send only');
});

test('cap refusal on a fresh counter leaves no counter; out of memory counts nothing', async () => {
  const k = w.issue(['--daily-cap', '0']);
  const r = await w.call(k.key, 'POST', '/emails', email('z@example.com'));
  errorShape(assert, r, 429, 'daily_quota_exceeded');
  assert.deepEqual(counters(k), {}, 'the day counter the refused call started is gone');

  const k2 = w.issue(['--daily-cap', '5']);
  assert.equal((await w.call(k2.key, 'POST', '/emails', email('y@example.com'))).status, 200);
  await w.waitForLog(1, ['--key', k2.id]);
  const before = counters(k2);
  w.redis.cli('CONFIG', 'SET', 'maxmemory', '1');
  try {
    const o = await w.call(k2.key, 'POST', '/emails', email('x@example.com'));
    errorShape(assert, o, 503, 'service_unavailable');
  } finally {
    w.redis.cli('CONFIG', 'SET', 'maxmemory', '0');
  }
  assert.deepEqual(counters(k2), before, 'nothing counted under OOM');
});
