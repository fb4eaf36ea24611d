// Calls without a usable vault key are refused in Resend's error shape and
// never reach Resend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = { from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' };

test('no Authorization -> 401 missing_api_key', async () => {
  errorShape(assert, await w.call(null, 'POST', '/emails', email), 401, 'missing_api_key');
});

test('blank or non-Bearer Authorization -> 401 missing_api_key', async () => {
  for (const auth of ['', 'Bearer', 'Bearer    ', 'Basic dXNlcjpwYXNz']) {
    const res = await w.call(null, 'POST', '/emails', email, { headers: { authorization: auth } });
    errorShape(assert, res, 401, 'missing_api_key');
  }
});

test('unknown vault key -> 403 invalid_api_key', async () => {
  const fake = 'vk_' + 'A'.repeat(43);
  errorShape(assert, await w.call(fake, 'POST', '/emails', email), 403, 'invalid_api_key');
  errorShape(assert, await w.call('vk_short', 'POST', '/emails', email), 403, 'invalid_api_key');
  errorShape(assert, await w.call('garbage', 'GET', '/emails/x'), 403, 'invalid_api_key');
});

test('a real Resend key presented -> 403 invalid_api_key, and it is not forwarded', async () => {
  const res = await w.call(w.realKey, 'POST', '/emails', email);
  errorShape(assert, res, 403, 'invalid_api_key');
  assert.match(res.json.message, /real Resend key/);
});

test('revoked-then-unknown: a deleted record reads as unknown', async () => {
  const k = w.issue();
  w.redis.cli('DEL', `sc:id:${k.id}`);
  for (const key of w.redis.raw('KEYS', 'sc:vk:*').split('\n').filter(Boolean)) {
    if (w.redis.raw('HGET', key, 'id').trim() === k.id) w.redis.cli('DEL', key);
  }
  errorShape(assert, await w.call(k.key, 'POST', '/emails', email), 403, 'invalid_api_key');
});

test('nothing above reached Resend', () => {
  assert.equal(w.fake.received.length, 0);
});
