// A key's from/to domain lists, body checks, refunds, idempotency and
// own-email rules, through sendcapd to the fake Resend.  A refused send
// never reaches Resend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, varied } from '../lib/harness.mjs';

const w = new World();
let k;
before(async () => {
  await w.start();
  k = w.issue(['--from-domain', 'example.com', '--to-domain', 'example.com', '--to-domain', '*.corp.example', '--daily-cap', '50']);
});
after(async () => { await w.stop(); });

const email = (extra = {}) => varied({ from: 'Agent <agent@example.com>', to: ['a@example.com'], subject: 's', text: 't', ...extra });

async function refused(body, status, name, path = '/emails') {
  const n = w.fake.received.length;
  const res = await w.call(k.key, 'POST', path, body);
  errorShape(assert, res, status, name);
  assert.equal(w.fake.received.length, n, `nothing forwarded for ${res.json.message}`);
  return res;
}

test('from domain outside the list -> 403 invalid_from_address listing the allowed', async () => {
  const r = await refused(email({ from: 'x@evilexample.com' }), 403, 'invalid_from_address');
  assert.ok(r.json.message.includes(k.id));
  assert.match(r.json.message, /allowed from-domains: example\.com/);
  await refused(email({ from: 'x@example.com.evil.com' }), 403, 'invalid_from_address');
});

test('recipient outside the list -> 403 invalid_to_address naming the field', async () => {
  let r = await refused(email({ bcc: ['b@example.com', 'x@evil.com'] }), 403, 'invalid_to_address');
  assert.match(r.json.message, /bcc\[1\]/);
  r = await refused(email({ reply_to: 'x@evil.com' }), 403, 'invalid_to_address');
  assert.match(r.json.message, /reply_to/);
  r = await refused(email({ to: 'x@corp.example' }), 403, 'invalid_to_address');
  const batch = Array.from({ length: 58 }, () => email());
  batch[57] = email({ bcc: ['x@evil.com'] });
  r = await refused(batch, 403, 'invalid_to_address', '/emails/batch');
  assert.match(r.json.message, /batch\[57\]\.bcc\[0\]/);
  assert.match(r.json.message, /nothing in this request was sent/);
});

test('body refusals -> 422 validation_error naming the field', async () => {
  let r = await refused(email({ from: undefined }), 422, 'validation_error');
  assert.match(r.json.message, /from is required/);
  r = await refused(email({ headers: { Bcc: 'x@evil.com' } }), 422, 'validation_error');
  assert.match(r.json.message, /headers\.Bcc/);
  r = await refused(email({ sender: 'x@example.com' }), 422, 'validation_error');
  assert.match(r.json.message, /sender is not a field/);
  r = await refused('{"from":"a@example.com","to":"a@example.com","to":"x@evil.com"}', 422, 'validation_error');
  assert.match(r.json.message, /repeats an object key/);
  await refused('not json', 422, 'validation_error');
  await refused(email({ to: Array.from({ length: 51 }, (_, i) => `a${i}@example.com`) }), 422, 'validation_error');
  await refused(Array.from({ length: 101 }, () => email()), 422, 'validation_error', '/emails/batch');
  await refused(email({ to: '"x"@example.com' }), 422, 'validation_error');
  r = await w.call(k.key, 'POST', '/emails', email(), { headers: { 'idempotency-key': 'x'.repeat(257) } });
  errorShape(assert, r, 422, 'validation_error');
});

test('an allowed send is forwarded byte for byte', async () => {
  const raw = '{"from":"Agent <agent@eu.example.com>","to":["a@example.com","b@x.corp.example"],"subject":"s","text":"t"}';
  const k2 = w.issue(['--from-domain', '*.example.com', '--to-domain', 'example.com', '--to-domain', '*.corp.example']);
  const res = await w.call(k2.key, 'POST', '/emails', raw);
  assert.equal(res.status, 200, res.text);
  assert.equal(w.fake.received.at(-1).body, raw);
});

test('4xx from Resend refunds the reservation; 5xx keeps it', async () => {
  const kc = w.issue(['--daily-cap', '2']);
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'bad' } });
  assert.equal((await w.call(kc.key, 'POST', '/emails', email({ to: ['a@example.com', 'b@example.com'] }))).status, 422);
  assert.equal((await w.call(kc.key, 'POST', '/emails', email())).status, 200, 'refunded: 1 fits');
  w.fake.next({ status: 500, body: { statusCode: 500, name: 'application_error', message: 'boom' } });
  assert.equal((await w.call(kc.key, 'POST', '/emails', email())).status, 500);
  const r = await w.call(kc.key, 'POST', '/emails', email());
  assert.equal(r.status, 429, 'the 5xx send kept its reservation');
});

test('a permissive batch refunds the elements Resend lists as errors', async () => {
  const kc = w.issue(['--daily-cap', '3']);
  w.fake.next({ status: 200, body: { data: [{ id: 'e-ok-1' }], errors: [{ index: 1, message: 'bad to' }] } });
  const r = await w.call(kc.key, 'POST', '/emails/batch', [email(), email({ to: ['a@example.com', 'b@example.com'] })],
    { headers: { 'x-batch-validation': 'permissive' } });
  assert.equal(r.status, 200);
  // 3 reserved, 2 given back: 2 more fit, a third does not.
  assert.equal((await w.call(kc.key, 'POST', '/emails', email({ to: ['a@example.com', 'b@example.com'] }))).status, 200);
  assert.equal((await w.call(kc.key, 'POST', '/emails', email())).status, 429);
});

test('Idempotency-Key is namespaced by key family', async () => {
  const a = w.issue();
  const b = w.issue();
  await w.call(a.key, 'POST', '/emails', email(), { headers: { 'idempotency-key': 'order-1' } });
  const fa = w.fake.received.at(-1).headers['idempotency-key'];
  await w.call(b.key, 'POST', '/emails', email(), { headers: { 'idempotency-key': 'order-1' } });
  const fb = w.fake.received.at(-1).headers['idempotency-key'];
  await w.call(a.key, 'POST', '/emails', email(), { headers: { 'idempotency-key': 'order-1' } });
  const fa2 = w.fake.received.at(-1).headers['idempotency-key'];
  assert.equal(fa, `${a.id}:order-1`);
  assert.notEqual(fa, fb);
  assert.equal(fa, fa2, 'the same agent replays');
  const long = 'y'.repeat(250);
  await w.call(a.key, 'POST', '/emails', email(), { headers: { 'idempotency-key': long } });
  const fl = w.fake.received.at(-1).headers['idempotency-key'];
  assert.ok(fl.length <= 256 && fl.startsWith(`${a.id}:sha256:`));
});

test('sending-scope keys read and change only their own emails', async () => {
  const a = w.issue();
  const b = w.issue();
  const full = w.issue(['--scope', 'full']);
  const sent = await w.call(a.key, 'POST', '/emails', email());
  const id = sent.json.id;
  assert.equal((await w.call(a.key, 'GET', `/emails/${id}`)).status, 200);
  assert.equal((await w.call(a.key, 'POST', `/emails/${id}/cancel`)).status, 200);
  const n = w.fake.received.length;
  for (const [m, p] of [['GET', `/emails/${id}`], ['PATCH', `/emails/${id}`], ['POST', `/emails/${id}/cancel`]]) {
    const r = await w.call(b.key, m, p, m === 'GET' ? undefined : {});
    errorShape(assert, r, 401, 'restricted_api_key');
    assert.match(r.json.message, /only read and change emails sent with it/);
  }
  assert.equal(w.fake.received.length, n);
  assert.equal((await w.call(full.key, 'GET', `/emails/${id}`)).status, 200, 'full scope reads any');
});
