// /api-keys is never reachable; the sending scope reaches only the email
// routes; blind sends are refused to keys with a cap or a to-domain list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

test('/api-keys -> 401 restricted_api_key for every key, nothing forwarded', async () => {
  const sending = w.issue();
  const full = w.issue(['--scope', 'full']);
  for (const k of [sending, full]) {
    for (const [m, p, b] of [['GET', '/api-keys'], ['POST', '/api-keys', { name: 'x' }],
      ['DELETE', '/api-keys/abc'], ['PATCH', '/api-keys/abc', {}], ['GET', '/api-keys/a/b']]) {
      const res = await w.call(k.key, m, p, b);
      errorShape(assert, res, 401, 'restricted_api_key');
      assert.ok(res.json.message.includes(k.id));
    }
    // Twice: the second time the key record is cached.
    errorShape(assert, await w.call(k.key, 'GET', '/api-keys'), 401, 'restricted_api_key');
  }
  assert.equal(w.fake.received.length, 0);
});

test('sending scope: only the five email routes', async () => {
  const k = w.issue();
  w.fake.reset();
  for (const [m, p] of [['GET', '/domains'], ['GET', '/emails'], ['POST', '/broadcasts/x/send'],
    ['GET', '/contacts'], ['DELETE', '/domains/d1'], ['GET', '/emails/x/attachments']]) {
    errorShape(assert, await w.call(k.key, m, p), 401, 'restricted_api_key');
  }
  assert.equal(w.fake.received.length, 0);
  const sent = await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  assert.equal(sent.status, 200, sent.text);
  const batch = await w.call(k.key, 'POST', '/emails/batch', [{ from: 'a@example.com', to: 'b@example.com', subject: 's2', text: 't' }]);
  assert.equal(batch.status, 200, batch.text);
  const id = sent.json.id;
  for (const [m, p, b] of [['GET', `/emails/${id}`], ['PATCH', `/emails/${id}`, { scheduled_at: 'in 1 hour' }],
    ['POST', `/emails/${id}/cancel`], ['GET', `/emails/${batch.json.data[0].id}`]]) {
    const res = await w.call(k.key, m, p, b);
    assert.equal(res.status, 200, `${m} ${p}: ${res.text}`);
  }
  assert.equal(w.fake.received.length, 6);
});

test('full scope reaches other endpoints; blind sends need no cap and no to-list', async () => {
  const full = w.issue(['--scope', 'full']);
  w.fake.reset();
  const res = await w.call(full.key, 'GET', '/domains');
  assert.equal(res.status, 200, res.text);
  assert.equal(w.fake.received.length, 1);
  // A blind send with an uncapped full key is forwarded (the fake 404s it).
  const bs = await w.call(full.key, 'POST', '/broadcasts/b1/send', {});
  assert.equal(bs.status, 404);
  assert.equal(w.fake.received.length, 2);

  const capped = w.issue(['--scope', 'full', '--daily-cap', '10']);
  const listed = w.issue(['--scope', 'full', '--to-domain', 'example.com']);
  for (const k of [capped, listed]) {
    for (const p of ['/broadcasts/b1/send', '/events/send', '/broadcasts', '/inboxes/i1/drafts/d1/send']) {
      const r = await w.call(k.key, 'POST', p, {});
      errorShape(assert, r, 401, 'restricted_api_key');
      assert.match(r.json.message, /cannot count or check/);
    }
  }
  assert.equal(w.fake.received.length, 2);
});

test('unknown endpoint -> 404, wrong method -> 405, nothing forwarded', async () => {
  const k = w.issue(['--scope', 'full']);
  w.fake.reset();
  errorShape(assert, await w.call(k.key, 'GET', '/nope'), 404, 'not_found');
  errorShape(assert, await w.call(k.key, 'DELETE', '/emails'), 405, 'method_not_allowed');
  errorShape(assert, await w.call(k.key, 'PUT', '/emails/x'), 405, 'method_not_allowed');
  assert.equal(w.fake.received.length, 0);
});
