// End to end with the official Resend Node SDK (npm `resend`, pinned in
// package-lock.json): an agent changes one line, the base URL, and keeps
// working; every refusal surfaces in the SDK's `error` with the right
// name and statusCode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Resend } from 'resend';
import { World, varied } from '../lib/harness.mjs';

const sdkVersion = JSON.parse(readFileSync(new URL('./node_modules/resend/package.json', import.meta.url))).version;
const w = new World();
before(async () => { await w.start(); await w.addProxy(['--path-prefix', '/resend/v1']); });
after(async () => { await w.stop(); });

const email = varied({ from: 'Agent <agent@example.com>', to: ['someone@example.com'], subject: 'hello', html: '<p>hi</p>' });

test('emails.send, batch.send, emails.get through sendcapd', async () => {
  const k = w.issue();
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  const sent = await resend.emails.send(email);
  assert.equal(sent.error, null, JSON.stringify(sent.error));
  assert.match(sent.data.id, /^[0-9a-f-]{36}$/);
  const got = w.fake.received.at(-1);
  assert.equal(got.headers.authorization, `Bearer ${w.realKey}`);
  assert.equal(got.headers['user-agent'], `resend-node:${sdkVersion}`);
  assert.equal(got.json.from, email.from);

  const batch = await resend.batch.send([email, { ...email, to: ['other@example.com'] }]);
  assert.equal(batch.error, null, JSON.stringify(batch.error));
  assert.equal(batch.data.data.length, 2);
  assert.equal(w.fake.received.at(-1).headers['x-batch-validation'], 'strict');

  const read = await resend.emails.get(sent.data.id);
  assert.equal(read.error, null);
  assert.equal(read.data.id, sent.data.id);
  assert.equal(read.data.object, 'email');
});

test('Idempotency-Key reaches Resend', async () => {
  const k = w.issue();
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  const r = await resend.emails.send(email, { idempotencyKey: 'order-123' });
  assert.equal(r.error, null);
  assert.ok(w.fake.received.at(-1).headers['idempotency-key']);
});

test('a base URL with a path prefix and a trailing slash works', async () => {
  const k = w.issue();
  const p = w.proxies[1];
  for (const base of [`${p.url}/resend/v1`, `${p.url}/resend/v1/`]) {
    const resend = new Resend(k.key, { baseUrl: base });
    const r = await resend.emails.send(email);
    assert.equal(r.error, null, `${base}: ${JSON.stringify(r.error)}`);
    assert.equal(w.fake.received.at(-1).url, '/emails');
  }
});

test('RESEND_BASE_URL works too', async () => {
  const k = w.issue();
  process.env.RESEND_BASE_URL = w.proxy.url;
  try {
    const r = await new Resend(k.key).emails.send(email);
    assert.equal(r.error, null, JSON.stringify(r.error));
  } finally {
    delete process.env.RESEND_BASE_URL;
  }
});

test('refusals surface as SDK errors with name and statusCode', async () => {
  const n = w.fake.received.length;
  const unknown = new Resend('vk_' + 'x'.repeat(43), { baseUrl: w.proxy.url });
  let r = await unknown.emails.send(email);
  assert.equal(r.data, null);
  assert.equal(r.error.name, 'invalid_api_key');
  assert.equal(r.error.statusCode, 403);

  const k = w.issue();
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  r = await resend.apiKeys.list();
  assert.equal(r.error.name, 'restricted_api_key');
  assert.equal(r.error.statusCode, 401);
  r = await resend.apiKeys.create({ name: 'escape' });
  assert.equal(r.error.name, 'restricted_api_key');
  r = await resend.domains.list();
  assert.equal(r.error.name, 'restricted_api_key');
  assert.match(r.error.message, /sending scope/);

  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  r = await resend.emails.send(email);
  assert.equal(r.error.name, 'vault_key_revoked');
  assert.equal(r.error.statusCode, 403);
  assert.ok(r.error.message.includes(k.id));

  const e = w.issue(['--expires-in', '1s']);
  await new Promise((res) => setTimeout(res, 2100));
  r = await new Resend(e.key, { baseUrl: w.proxy.url }).emails.send(email);
  assert.equal(r.error.name, 'vault_key_expired');
  assert.equal(r.error.statusCode, 403);

  r = await new Resend(w.realKey, { baseUrl: w.proxy.url }).emails.send(email);
  assert.equal(r.error.name, 'invalid_api_key');
  assert.equal(w.fake.received.length, n, 'none of these reached Resend');
});

test('an upstream error reaches the SDK unchanged', async () => {
  const k = w.issue();
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'Invalid `from` field.' } });
  const r = await new Resend(k.key, { baseUrl: w.proxy.url }).emails.send(email);
  assert.deepEqual(r.error, { statusCode: 422, name: 'validation_error', message: 'Invalid `from` field.' });
});

test('policy refusals surface in the SDK: domains, body, daily cap', async () => {
  const k = w.issue(['--from-domain', 'example.com', '--to-domain', 'example.com', '--daily-cap', '2']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  let r = await resend.emails.send({ ...email, from: 'x@evil.com' });
  assert.equal(r.error.name, 'invalid_from_address');
  assert.equal(r.error.statusCode, 403);
  r = await resend.batch.send([email, { ...email, bcc: ['x@evil.com'] }]);
  assert.equal(r.error.name, 'invalid_to_address');
  assert.match(r.error.message, /batch\[1\]\.bcc\[0\]/);
  r = await resend.emails.send({ ...email, headers: { Bcc: 'x@evil.com' } });
  assert.equal(r.error.name, 'validation_error');
  assert.equal(r.error.statusCode, 422);
  r = await resend.emails.send({ ...email, to: ['a@example.com', 'b@example.com'] });
  assert.equal(r.error, null);
  r = await resend.emails.send(email);
  assert.equal(r.error.name, 'daily_quota_exceeded');
  assert.equal(r.error.statusCode, 429);
  assert.match(r.headers['retry-after'], /^\d+$/);
  // Its own email it may read; another key's it may not.
  const other = w.issue();
  const mine = await new Resend(other.key, { baseUrl: w.proxy.url }).emails.send(email);
  r = await resend.emails.get(mine.data.id);
  assert.equal(r.error.name, 'restricted_api_key');
});
