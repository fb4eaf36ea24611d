// Framing an attacker could use to make the proxy and the upstream read a
// request differently (issue #10 item 12, SPEC §3, RFC 9112): a chunk size
// with a 0x prefix, bare-LF line ends, a missing or doubled Host, and a
// Connection header that names a framing or auth header.  Each is refused
// (400, Resend's error shape) and nothing reaches the fake Resend.  Also: a
// refused request whose body is still coming is answered readably (the
// server drains before it closes, so the client gets the 413, not a reset).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { World } from '../lib/harness.mjs';

const w = new World();
let key;
before(async () => {
  await w.start({ proxyArgs: ['--max-body', '4096'] });
  key = w.issue(['--scope', 'full']).key;
});
after(async () => { await w.stop(); });

const port = () => Number(new URL(w.proxy.url).port);
const body = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });

// Send raw bytes; collect until the server closes or one whole response is in.
function raw(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(port(), '127.0.0.1');
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      const m = buf.match(/content-length: (\d+)/i);
      const end = buf.indexOf('\r\n\r\n');
      if (m && end >= 0 && buf.length >= end + 4 + Number(m[1])) s.destroy();
    });
    s.on('close', () => resolve(buf));
    s.on('error', () => { /* close follows */ });
    s.write(bytes); // no half-close: the server treats EOF as the client leaving
  });
}

function refused(text, status = 400) {
  const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d+) /gm)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [status], text);
  const json = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  assert.equal(json.statusCode, status);
  assert.equal(json.name, 'validation_error');
  assert.ok(json.message.length > 0);
}

async function nothingForwarded(fn) {
  const n = w.fake.received.length;
  await fn();
  assert.equal(w.fake.received.length, n, 'nothing may reach the upstream');
}

const auth = () => `Authorization: Bearer ${key}\r\n`;
const post = (extra) => `POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\n${extra}`;

test('a well-formed chunked send still passes (control)', async () => {
  const n = w.fake.received.length;
  const text = await raw(post(`Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`));
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.equal(w.fake.received.length, n + 1);
});

test('chunk sizes with a 0x prefix or a non-hex byte -> 400', async () => {
  for (const size of [`0x${body.length.toString(16)}`, `0X${body.length.toString(16)}`,
    `${body.length.toString(16)}g`, `+${body.length.toString(16)}`, ` ${body.length.toString(16)}`]) {
    await nothingForwarded(async () => {
      refused(await raw(post(`Transfer-Encoding: chunked\r\n\r\n${size}\r\n${body}\r\n0\r\n\r\n`)));
    });
  }
});

test('bare LF line ends in the head or in the chunked framing -> 400', async () => {
  const cases = [
    `POST /emails HTTP/1.1\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `POST /emails HTTP/1.1\r\nHost: x\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `POST /emails HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\n${body}`,
    post(`Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\n${body}\r\n0\r\n\r\n`),
    post(`Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\n0\r\n\r\n`),
    post(`Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\n\r\n`),
    post(`Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\n`),
    post(`Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nX-T: 1\n\r\n`),
  ];
  for (const c of cases) await nothingForwarded(async () => refused(await raw(c)));
});

test('HTTP/1.1 without Host, or with two -> 400; HTTP/1.0 without Host is fine', async () => {
  await nothingForwarded(async () => {
    refused(await raw(`GET /emails/e1 HTTP/1.1\r\n${auth()}\r\n`));
    refused(await raw(`GET /emails/e1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n${auth()}\r\n`));
    refused(await raw(`GET /emails/e1 HTTP/1.1\r\nHost: a\r\nhost: a\r\n${auth()}\r\n`));
  });
  const n = w.fake.received.length;
  assert.match(await raw(`GET /emails/e1 HTTP/1.0\r\n${auth()}\r\n`), /^HTTP\/1\.0 200 /);
  assert.equal(w.fake.received.length, n + 1);
});

test('Connection naming a framing or auth header -> 400', async () => {
  for (const named of ['Content-Type', 'content-length', 'Transfer-Encoding', 'Authorization', 'Host',
    'keep-alive, Content-Type', 'close,authorization']) {
    await nothingForwarded(async () => {
      refused(await raw(post(`Content-Length: ${body.length}\r\nConnection: ${named}\r\n\r\n${body}`)));
    });
  }
  // Naming other headers stays allowed (they are dropped as hop-by-hop).
  const n = w.fake.received.length;
  // Another subject: the chunked send above is the same email (SPEC §5 dedupe).
  const other = body.replace('"subject":"s"', '"subject":"s2"');
  assert.match(await raw(post(`Content-Length: ${other.length}\r\nConnection: close, X-Foo\r\n\r\n${other}`)), /^HTTP\/1\.1 200 /);
  assert.equal(w.fake.received.length, n + 1);
});

// The client keeps sending its oversized body after the 413; it must still
// read the answer (no reset while it writes, no lost response).
test('a 413 with the body still coming is read by the client', async () => {
  const size = 600 * 1024;
  const res = await new Promise((resolve) => {
    const s = net.connect(port(), '127.0.0.1');
    let buf = '';
    let err = null;
    s.on('data', (d) => { buf += d; });
    s.on('error', (e) => { err = e; });
    s.on('close', () => resolve({ buf, err }));
    s.write(post(`Content-Length: ${size}\r\n\r\n`));
    const piece = Buffer.alloc(16 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += piece.length;
        if (!s.write(piece)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    setImmediate(pump);
  });
  assert.equal(res.err, null, `the client saw ${res.err?.code}`);
  assert.match(res.buf, /^HTTP\/1\.1 413 /);
  assert.match(res.buf, /"statusCode":413/);
});

test('Connection tokens are whole tokens: "x-closed" keeps an HTTP/1.1 connection, "close" ends it', async () => {
  const get = (conn) => `GET /emails/e1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nConnection: ${conn}\r\n\r\n`;
  const kept = await raw(get('x-closed'));
  assert.match(kept, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(kept, /^connection: close/im, kept);
  const closed = await raw(get('Keep-Alive, close'));
  assert.match(closed, /^connection: close/im, closed);
});

test('a field named in any of several Connection headers is not forwarded', async () => {
  const n = w.fake.received.length;
  const res = await raw(`GET /emails/e1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
    'Connection: keep-alive\r\nConnection: X-Hop-Only\r\nX-Hop-Only: 1\r\nX-Kept: 1\r\n\r\n');
  assert.match(res, /^HTTP\/1\.1 200 /);
  assert.equal(w.fake.received.length, n + 1);
  const got = w.fake.received.at(-1).headers;
  assert.equal(got['x-kept'], '1');
  assert.equal(got['x-hop-only'], undefined, 'named in the second Connection header: hop-by-hop');
});
