// The HTTP layer's refusals: bad targets, conflicting framing, limits.
// Each answer is Resend's error shape with X-Request-Id, and nothing is
// forwarded.  Raw sockets, because fetch would not send these requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { World } from '../lib/harness.mjs';

const w = new World();
let key;
before(async () => {
  await w.start({ proxyArgs: ['--max-body', '4096'] });
  key = w.issue(['--scope', 'full']).key; // full: GET /emails/{id} of any email
});
after(async () => { await w.stop(); });

// Send raw bytes, read until the server closes or a full response arrives.
function raw(bytes, { port = Number(new URL(w.proxy.url).port), waitClose = false } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = () => {
      const [head, ...rest] = buf.split('\r\n\r\n');
      const status = Number(head.split(' ')[1]);
      const headers = Object.fromEntries(head.split('\r\n').slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }));
      const body = rest.join('\r\n\r\n');
      let json = null;
      try { json = JSON.parse(body); } catch { /* */ }
      resolve({ status, headers, body, json, raw: buf });
    };
    s.on('data', (d) => {
      buf += d;
      const m = buf.match(/content-length: (\d+)/i);
      const end = buf.indexOf('\r\n\r\n');
      if (!waitClose && m && end >= 0 && buf.length >= end + 4 + Number(m[1])) { s.destroy(); done(); }
    });
    s.on('close', done);
    s.on('error', reject);
    s.write(bytes);
  });
}

function shape(res, status, name) {
  assert.equal(res.status, status, res.raw);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.match(res.headers['x-request-id'], /^req_/);
  assert.equal(res.json.statusCode, status);
  assert.equal(res.json.name, name);
}

const auth = () => `Authorization: Bearer ${key}\r\n`;

test('percent-encoded, dotted and absolute-form targets -> 400', async () => {
  for (const target of ['/emails/%2e%2e/api-keys', '/emails/abc%2Fdef', '/emails/../api-keys',
    '/emails/./x', '/./emails', 'http://api.resend.com/emails', '*', 'api.resend.com:443']) {
    const res = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`);
    shape(res, 400, 'validation_error');
  }
});

test('conflicting framing -> 400', async () => {
  const body = '{"from":"a@example.com"}';
  shape(await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`), 400, 'validation_error');
  shape(await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef`), 400, 'validation_error');
  shape(await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Transfer-Encoding: gzip, chunked\r\n\r\n`), 400, 'validation_error');
  shape(await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: -1\r\n\r\n`), 400, 'validation_error');
  shape(await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}X-Folded: a\r\n b\r\n\r\n`), 400, 'validation_error');
  shape(await raw(`GARBAGE\r\n\r\n`), 400, 'validation_error');
  shape(await raw(`GET /emails/x HTTP/2.0\r\n\r\n`), 400, 'validation_error');
});

test('body over --max-body -> 413 (declared and chunked)', async () => {
  const res = await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: 5000\r\n\r\n`);
  shape(res, 413, 'validation_error');
  assert.match(res.json.message, /4096 bytes/);
  const chunk = 'a'.repeat(3000);
  const c = await raw(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n` +
    `${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
  shape(c, 413, 'validation_error');
});

test('header block too large -> 413', async () => {
  const res = await raw(`GET /emails/x HTTP/1.1\r\nHost: x\r\n${auth()}X-Big: ${'a'.repeat(40000)}\r\n\r\n`);
  shape(res, 413, 'validation_error');
  let many = '';
  for (let i = 0; i < 120; i++) many += `X-H${i}: v\r\n`;
  shape(await raw(`GET /emails/x HTTP/1.1\r\nHost: x\r\n${auth()}${many}\r\n`), 413, 'validation_error');
});

test('a chunked body and pipelined requests are served in order', async () => {
  const body = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  const half = Math.floor(body.length / 2);
  const req1 = `POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${half.toString(16)};ext=1\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\nX-Trailer: dropped\r\n\r\n`;
  const req2 = `GET /emails/e2 HTTP/1.1\r\nHost: x\r\n${auth()}Connection: close\r\n\r\n`;
  const n = w.fake.received.length;
  const res = await raw(req1 + req2, { waitClose: true });
  const statuses = [...res.raw.matchAll(/HTTP\/1\.1 (\d+) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200]);
  assert.equal(w.fake.received.length, n + 2);
  assert.deepEqual(w.fake.received[n].json, JSON.parse(body));
  assert.equal(w.fake.received[n].headers['x-trailer'], undefined);
});

test('Expect: 100-continue is answered', async () => {
  const body = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 's2', text: 't' }); // not the pipelined test's email (SPEC §5 dedupe)
  const s = net.connect(Number(new URL(w.proxy.url).port), '127.0.0.1');
  let buf = '';
  s.on('data', (d) => { buf += d; });
  s.write(`POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
  for (let i = 0; i < 100 && !buf.includes('100 Continue'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(buf, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  s.write(body);
  for (let i = 0; i < 200 && !/HTTP\/1\.1 200/.test(buf); i++) await new Promise((r) => setTimeout(r, 10));
  s.destroy();
  assert.match(buf, /HTTP\/1\.1 200 OK/);
});

test('nothing refused above reached Resend', () => {
  const paths = w.fake.received.map((r) => r.url);
  assert.ok(paths.every((p) => p === '/emails' || p === '/emails/e2'), paths.join(','));
});

test('--path-prefix is stripped; other paths are 404', async () => {
  const p = await w.addProxy(['--path-prefix', '/resend/v1']);
  const n = w.fake.received.length;
  const ok = await w.call(key, 'GET', '/resend/v1/emails/e9', undefined, { proxy: p });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(w.fake.received.at(-1).url, '/emails/e9');
  const slash = await w.call(key, 'GET', '/resend/v1//emails/e9', undefined, { proxy: p });
  assert.equal(slash.status, 200, slash.text);
  const nf = await w.call(key, 'GET', '/emails/e9', undefined, { proxy: p });
  assert.equal(nf.status, 404);
  assert.equal((await w.call(key, 'GET', '/resend/v10/emails/e9', undefined, { proxy: p })).status, 404);
  assert.equal(w.fake.received.length, n + 2);
});
