// A key's from-domain list holds on every route whose body names a sender,
// not only on sends (SPEC §2, §3): a from-listed key cannot reach the routes
// that send or set up mail for recipients the proxy cannot count
// (broadcasts, automations), and a template's from and reply_to are checked
// like a send's.  What reached the fake is asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
let fromKey, toKey, plain;
before(async () => {
  await w.start();
  fromKey = w.issue(['--scope', 'full', '--from-domain', 'ok.com']);
  toKey = w.issue(['--scope', 'full', '--to-domain', 'ok.com']);
  plain = w.issue(['--scope', 'full']);
});
after(async () => { await w.stop(); });

const evil = 'CEO <ceo@evil.com>';

async function refused(k, method, path, body, status, name) {
  const n = w.fake.received.length;
  const res = await w.call(k.key, method, path, body);
  errorShape(assert, res, status, name);
  assert.equal(w.fake.received.length, n, `${method} ${path} never reaches Resend`);
  return res;
}

test('a from-listed key without a cap cannot reach broadcast and automation set-ups', async () => {
  await refused(fromKey, 'POST', '/broadcasts',
    { from: evil, segment_id: 's1', subject: 's', html: '<p>x</p>', send: true }, 401, 'restricted_api_key');
  await refused(fromKey, 'PATCH', '/broadcasts/b1', { from: evil }, 401, 'restricted_api_key');
  await refused(fromKey, 'POST', '/broadcasts/b1/send', {}, 401, 'restricted_api_key');
  await refused(fromKey, 'POST', '/broadcasts/b1/duplicate', undefined, 401, 'restricted_api_key');
  await refused(fromKey, 'POST', '/automations',
    { name: 'a', steps: [{ key: 's', type: 'send_email', config: { template: { id: 't' }, from: evil } }], connections: [] },
    401, 'restricted_api_key');
  await refused(fromKey, 'PATCH', '/automations/a1', { status: 'enabled' }, 401, 'restricted_api_key');
  await refused(fromKey, 'POST', '/automations/a1/duplicate', undefined, 401, 'restricted_api_key');
  await refused(fromKey, 'POST', '/events/send', { event: 'e', email: 'x@evil.com' }, 401, 'restricted_api_key');
  // A to-listed key is closed out the same way; a key with no list is not.
  await refused(toKey, 'PATCH', '/broadcasts/b1', { from: evil }, 401, 'restricted_api_key');
  const n = w.fake.received.length;
  await w.call(plain.key, 'PATCH', '/broadcasts/b1', { from: evil });
  assert.equal(w.fake.received.length, n + 1);
});

test("a template's from is held to the from-domain list, its reply_to to the to-domain list", async () => {
  let r = await refused(fromKey, 'POST', '/templates', { name: 't', html: 'x', from: evil }, 403, 'invalid_from_address');
  assert.match(r.json.message, /ok\.com/);
  await refused(fromKey, 'PATCH', '/templates/t1', { from: 'x@sub.ok.com' }, 403, 'invalid_from_address');
  r = await refused(toKey, 'POST', '/templates', { name: 't', html: 'x', reply_to: ['a@ok.com', 'x@evil.com'] }, 403, 'invalid_to_address');
  assert.match(r.json.message, /reply_to\[1\]/);
  // A body sendcap cannot read is not forwarded either.
  await refused(fromKey, 'POST', '/templates', '{"name":"t","from":"a@ok.com","from":"b@evil.com"}', 422, 'validation_error');
  await refused(fromKey, 'PATCH', '/templates/t1', 'not json', 422, 'validation_error');
  await refused(fromKey, 'POST', '/templates', { name: 't', html: 'x', from: '"x"@ok.com' }, 422, 'validation_error');
  // Allowed ones go through byte for byte.
  const raw = '{"name":"t","html":"x","from":"Team <team@ok.com>"}';
  await w.call(fromKey.key, 'POST', '/templates', raw);
  assert.equal(w.fake.received.at(-1).body, raw);
  await w.call(fromKey.key, 'POST', '/templates', { name: 'no from', html: 'x' });
  assert.equal(w.fake.received.at(-1).json.name, 'no from');
});

// POST a body under the Content-Type (and other headers) given.
async function labelled(k, path, body, headers) {
  const res = await fetch(`${w.proxy.url}${path}`,
    { method: 'POST', headers: { authorization: `Bearer ${k.key}`, ...headers }, body });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

test("a template's body is held to JSON like a send's: no form label lets an unchecked from through", async () => {
  // Checked as JSON, a form parser upstream would read from=CEO <ceo@evil.com>.
  const body = '{"name":"t","from":"a@ok.com","html":"x&from=CEO%20%3Cceo%40evil.com%3E&y="}';
  for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
    const n = w.fake.received.length;
    const res = await labelled(fromKey, '/templates', body, { 'content-type': type });
    errorShape(assert, res, 415, 'validation_error');
    assert.equal(w.fake.received.length, n, `${type} never reaches Resend`);
  }
  // Accepted ones go as exactly application/json, whatever the label said.
  const n = w.fake.received.length;
  await labelled(fromKey, '/templates', body,
    { 'content-type': 'Application/JSON; charset=utf-8', 'content-encoding': 'identity' });
  assert.equal(w.fake.received.length, n + 1);
  const last = w.fake.received.at(-1);
  assert.equal(last.headers['content-type'], 'application/json');
  assert.equal(last.headers['content-encoding'], undefined);
  assert.equal(last.body, body);
});
