// A send through sendcapd reaches Resend with the real key, never the vault
// key; the upstream's status, headers and body come back unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

test('send is forwarded with the real key swapped in', async () => {
  const k = w.issue(['--name', 'swap']);
  const email = { from: 'agent@example.com', to: ['a@example.com'], subject: 'hi', html: '<p>hi</p>' };
  const res = await w.call(k.key, 'POST', '/emails', email, {
    headers: { 'x-agent-run-id': 'run-42', 'idempotency-key': 'abc', 'user-agent': 'resend-node:6.38.0' },
  });
  assert.equal(res.status, 200, res.text);
  assert.match(res.json.id, /^[0-9a-f-]{36}$/);
  assert.ok(res.headers.get('x-request-id').startsWith('req_'));
  assert.equal(res.headers.get('ratelimit-limit'), '10');
  assert.equal(res.headers.get('x-resend-fake'), 'yes');

  assert.equal(w.fake.received.length, 1);
  const got = w.fake.received[0];
  assert.equal(got.method, 'POST');
  assert.equal(got.url, '/emails');
  assert.equal(got.headers.authorization, `Bearer ${w.realKey}`);
  assert.ok(!JSON.stringify(got.headers).includes(k.key), 'vault key must not reach Resend');
  assert.equal(got.headers['x-agent-run-id'], undefined, 'X-Agent-Run-Id is ours, not forwarded');
  assert.equal(got.headers['user-agent'], 'resend-node:6.38.0');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.deepEqual(got.json, email);
});

test('a User-Agent is always sent', async () => {
  const k = w.issue(['--scope', 'full']);
  w.fake.reset();
  const res = await fetch(`${w.proxy.url}/emails/00000000-0000-0000-0000-000000000001`, {
    headers: { authorization: `Bearer ${k.key}`, 'user-agent': '' },
  });
  assert.equal(res.status, 200);
  assert.match(w.fake.received[0].headers['user-agent'], /^sendcap\//);
});

test('upstream errors pass back unchanged', async () => {
  const k = w.issue();
  w.fake.next({ status: 422, headers: { 'x-resend-thing': '1' },
    body: { statusCode: 422, name: 'validation_error', message: 'The `to` field is missing.' } });
  const res = await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 'x' });
  assert.equal(res.status, 422);
  assert.equal(res.json.message, 'The `to` field is missing.');
  assert.equal(res.headers.get('x-resend-thing'), '1');
});

test('query strings and doubled slashes reach the same route', async () => {
  const k = w.issue(['--scope', 'full']);
  w.fake.reset();
  const res = await w.call(k.key, 'GET', '//domains?limit=5');
  assert.equal(res.status, 200, res.text);
  assert.equal(w.fake.received[0].url, '/domains?limit=5');
});

test('upstream connections are reused', async () => {
  const k = w.issue(['--scope', 'full']);
  await w.call(k.key, 'GET', '/emails/warm');
  const before = w.fake.connections;
  for (let i = 0; i < 20; i++) {
    const res = await w.call(k.key, 'GET', `/emails/e${i}`);
    assert.equal(res.status, 200);
  }
  assert.equal(w.fake.connections, before, '20 sequential calls opened no new upstream connection');
});
