// Requests that try to make Resend read a call differently from sendcap:
// a send body typed or encoded as something other than JSON, path bytes
// outside RFC 3986 pchar, method/URL override headers, and an
// Idempotency-Key spelled with '_'.  What reached the fake is asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
let full;
before(async () => {
  await w.start();
  full = w.issue(['--scope', 'full']);
});
after(async () => { await w.stop(); });

const email = JSON.stringify({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' });
// The same email with another subject: each send that goes through must be a
// new one for SPEC §5's dedupe window.
const emailN = (n) => email.replace('"subject":"s"', `"subject":"s${n}"`);

// Raw bytes, because fetch normalises targets and adds a Content-Type.
function raw(lines, body = '') {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(w.proxy.url).port), '127.0.0.1');
    let buf = '';
    s.on('data', (d) => { buf += d; });
    s.on('close', () => {
      const [head, ...rest] = buf.split('\r\n\r\n');
      let json = null;
      try { json = JSON.parse(rest.join('\r\n\r\n')); } catch { /* */ }
      resolve({ status: Number(head.split(' ')[1]), json, raw: buf });
    });
    s.on('error', reject);
    const h = [...lines, 'Host: x', `Authorization: Bearer ${full.key}`, 'Connection: close'];
    if (body) h.push(`Content-Length: ${Buffer.byteLength(body)}`);
    s.write(`${h.join('\r\n')}\r\n\r\n${body}`);
  });
}

// POST with exactly these headers (w.call would set its own Content-Type).
async function post(path, body, headers) {
  const res = await fetch(`${w.proxy.url}${path}`, {
    method: 'POST', body, headers: { authorization: `Bearer ${full.key}`, ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* */ }
  return { status: res.status, headers: res.headers, text, json };
}

test('#1 a send typed as anything but JSON is refused 415 and never reaches Resend', async () => {
  for (const ct of ['application/x-www-form-urlencoded', 'text/plain', 'application/jsonx', 'multipart/form-data; boundary=x']) {
    const n = w.fake.received.length;
    errorShape(assert, await post('/emails', email, { 'content-type': ct }), 415, 'validation_error');
    assert.equal(w.fake.received.length, n, `${ct}: nothing forwarded`);
  }
  for (const ce of ['gzip', 'deflate, identity']) {
    const n = w.fake.received.length;
    const res = await w.call(full.key, 'POST', '/emails', email, { headers: { 'content-encoding': ce } });
    errorShape(assert, res, 415, 'validation_error');
    assert.equal(w.fake.received.length, n, `${ce}: nothing forwarded`);
  }
  const b = await post('/emails/batch', `[${email}]`, { 'content-type': 'text/plain' });
  errorShape(assert, b, 415, 'validation_error');
});

test('#1 a send is forwarded as exactly application/json, with no Content-Encoding', async () => {
  let res = await post('/emails', email, { 'content-type': 'Application/JSON ; charset=utf-8', 'content-encoding': 'identity' });
  assert.equal(res.status, 200, res.text);
  let got = w.fake.received.at(-1);
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['content-encoding'], undefined);
  assert.equal(got.body, email);
  // No Content-Type at all: read as JSON, forwarded as JSON.
  res = await raw(['POST /emails HTTP/1.1'], emailN(74));
  assert.equal(res.status, 200, res.raw);
  got = w.fake.received.at(-1);
  assert.equal(got.headers['content-type'], 'application/json');
});

test('#2 path bytes outside pchar are refused 400 and never reach Resend', async () => {
  const n = w.fake.received.length;
  for (const t of ['/contacts/a/segments/b\\..\\..\\..\\..\\api-keys', '/emails/a"b', '/emails/a<b>',
    '/emails/{x}', '/emails/a|b', '/emails/a^b', '/emails/a`b', '/domains/a\\b']) {
    const res = await raw([`POST ${t} HTTP/1.1`]);
    assert.equal(res.status, 400, `${t}: ${res.raw}`);
    assert.equal(res.json.name, 'validation_error');
  }
  assert.equal(w.fake.received.length, n, 'nothing forwarded');
  // pchar's sub-delims and ':' '@' pass, and so does a query as sent.
  const ok = await raw(['GET /domains?limit=10&after=a"b HTTP/1.1']);
  assert.equal(ok.status, 200, ok.raw);
  assert.equal(w.fake.received.at(-1).url, '/domains?limit=10&after=a"b');
});

test('#4 method and URL override headers are never forwarded', async () => {
  const res = await w.call(full.key, 'GET', '/domains', undefined, {
    headers: {
      'X-HTTP-Method-Override': 'DELETE', 'X-HTTP-Method': 'DELETE', 'X-Method-Override': 'DELETE',
      'X-Original-URL': '/api-keys', 'X-Rewrite-URL': '/api-keys', 'X-Kept': 'yes',
    },
  });
  assert.equal(res.status, 200, res.text);
  const h = w.fake.received.at(-1).headers;
  for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url'])
    assert.equal(h[name], undefined, name);
  assert.equal(h['x-kept'], 'yes', 'other headers still go through');
});

test('#4 an Idempotency_Key is dropped, and counts as a second Idempotency-Key', async () => {
  let res = await w.call(full.key, 'POST', '/emails', emailN(110), { headers: { Idempotency_Key: 'k1' } });
  assert.equal(res.status, 200, res.text);
  const h = w.fake.received.at(-1).headers;
  assert.equal(h.idempotency_key, undefined);
  assert.equal(h['idempotency-key'], undefined);
  const n = w.fake.received.length;
  res = await w.call(full.key, 'POST', '/emails', emailN(116), { headers: { 'Idempotency-Key': 'k2', idempotency_key: 'k3' } });
  errorShape(assert, res, 422, 'validation_error');
  assert.equal(w.fake.received.length, n, 'nothing forwarded');
});
