// When Resend cannot be reached, hangs, or drops the connection, the agent
// gets 502 / 504 application_error in Resend's shape, and sendcapd stays up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, freePort, varied } from '../lib/harness.mjs';

const w = new World();
let key;
before(async () => {
  await w.start({ proxyArgs: ['--upstream-timeout', '1s'] });
  key = w.issue().key;
});
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('upstream hangs -> 504 after --upstream-timeout', async () => {
  w.fake.next({ hang: true });
  const t0 = Date.now();
  const res = await w.call(key, 'POST', '/emails', email);
  errorShape(assert, res, 504, 'application_error');
  assert.ok(Date.now() - t0 >= 900, 'waited for the timeout');
});

test('upstream drops the connection after the request -> 502', async () => {
  w.fake.next({ drop: true });
  const res = await w.call(key, 'POST', '/emails', email);
  errorShape(assert, res, 502, 'application_error');
  assert.match(res.json.message, /may or may not have been sent/);
});

test('upstream unreachable -> 502, nothing sent', async () => {
  const port = await freePort();
  const saved = w.fake.url;
  w.fake.url = `http://127.0.0.1:${port}`;
  const p = await w.addProxy();
  w.fake.url = saved;
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  errorShape(assert, res, 502, 'application_error');
  assert.match(res.json.message, /nothing was sent/);
});

test('the daemon still serves after all that', async () => {
  const res = await w.call(key, 'POST', '/emails', email);
  assert.equal(res.status, 200, res.text);
});

test('an https-less non-loopback upstream is refused at start', async () => {
  const { spawnSync } = await import('node:child_process');
  const { SENDCAPD } = await import('../lib/harness.mjs');
  const r = spawnSync(SENDCAPD, ['--upstream-url', 'http://api.resend.com'], { env: w.env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /must be https/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one clear line');
});

test('a reused upstream connection closed without an answer is not retried: no double send', async () => {
  // libcurl retries a request on a fresh connection when a reused one closes
  // before any answer; for a send Resend did receive, that would be a second
  // email under one reservation.  sendcapd answers 502 instead.
  assert.equal((await w.call(key, 'POST', '/emails', email)).status, 200); // the connection is now warm
  const before = w.fake.received.length;
  w.fake.next({ drop: true });
  const res = await w.call(key, 'POST', '/emails', email);
  errorShape(assert, res, 502, 'application_error');
  assert.equal(w.fake.received.length, before + 1, 'Resend saw the send exactly once');
});

test('an upstream answer with more header fields than sendcapd relays -> 502, never a cut answer', async () => {
  // Fields are relayed unchanged or the answer is failed (as one over the
  // header-block size is): dropping the fields past the limit would hand
  // the agent an answer Resend did not give.
  const many = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-extra-${i}`, `v${i}`]));
  w.fake.next({ status: 200, headers: many(50), body: { id: 'ok-50' } });
  const ok = await w.call(key, 'POST', '/emails', email);
  assert.equal(ok.status, 200, ok.text);
  for (let i = 0; i < 50; i++) assert.equal(ok.headers.get(`x-extra-${i}`), `v${i}`);

  const before = w.fake.received.length;
  w.fake.next({ status: 200, headers: many(150), body: { id: 'cut' } });
  const res = await w.call(key, 'POST', '/emails', email);
  errorShape(assert, res, 502, 'application_error');
  assert.equal(res.headers.get('x-extra-0'), null, 'none of the answer relayed');
  assert.equal(w.fake.received.length, before + 1, 'the send reached Resend once');
});
