// What a call settles (the owner of the email it sent, the refund of a send
// Resend refused) is in Redis before its client has the answer, so the
// client's next call sees it, through the same sendcapd or another one.
// (A finished call's record may never wait behind its answer: proxy/http.c
// writes answers after the Redis flush queued before them.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('an email sent through one instance is its key\'s at once on the other', async () => {
  const k = w.issue();
  const [a, b] = w.proxies;
  for (let i = 0; i < 40; i++) {
    const sent = await w.call(k.key, 'POST', '/emails', email, { proxy: i % 2 ? b : a });
    assert.equal(sent.status, 200, sent.text);
    const got = await w.call(k.key, 'GET', `/emails/${sent.json.id}`, undefined, { proxy: i % 2 ? a : b });
    assert.equal(got.status, 200, `round ${i}: ${got.text}`);
  }
});

test('a send Resend refused is refunded before its answer: the next send fits', async () => {
  const [a, b] = w.proxies;
  for (let i = 0; i < 20; i++) {
    const k = w.issue(['--daily-cap', '1']);
    w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'bad' } });
    assert.equal((await w.call(k.key, 'POST', '/emails', email, { proxy: a })).status, 422);
    const r = await w.call(k.key, 'POST', '/emails', email, { proxy: b });
    assert.equal(r.status, 200, `round ${i}: ${r.text}`);
  }
});

test('a send sendcapd could not forward (502, nothing sent) is refunded before its answer too', async () => {
  // The error path ends a call the same way as an answered one (proxy/call.c
  // finish()): the record and its refund are queued before the answer.
  const { freePort } = await import('../lib/harness.mjs');
  const saved = w.fake.url;
  w.fake.url = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  const dead = await w.addProxy();
  w.fake.url = saved;
  const [, b] = w.proxies;
  const before = w.fake.received.length;
  for (let i = 0; i < 20; i++) {
    const k = w.issue(['--daily-cap', '1']);
    const r1 = await w.call(k.key, 'POST', '/emails', email, { proxy: dead });
    assert.equal(r1.status, 502, r1.text);
    assert.match(r1.json.message, /nothing was sent/);
    const r2 = await w.call(k.key, 'POST', '/emails', email, { proxy: b });
    assert.equal(r2.status, 200, `round ${i}: ${r2.text}`);
  }
  assert.equal(w.fake.received.length, before + 20, 'only the sends through the live instance reached Resend');
});
