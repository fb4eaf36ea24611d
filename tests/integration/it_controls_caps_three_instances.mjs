// SPEC §5's caps are exact across instances and give everything back on a
// refund: three sendcapd on one Redis.  --monthly-cap 100 against 1,000
// concurrent sends forwards exactly 100; --per-recipient-cap 3 to one
// address forwards exactly 3 while other addresses still pass; a send Resend
// refuses (422) gives back the daily, monthly and per-recipient counts.
// Controls are written straight into the key record (setControls) until
// `key update` exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { World, httpCall, varied, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 3, proxyArgs: ['--max-conns-per-client', '1000'] }); });
after(async () => { await w.stop(); });

const email = (to = 'a@example.com') => varied({ from: 'agent@example.com', to, subject: 'hi', text: 'hi' });
const counter = (pattern) => {
  const keys = w.redis.raw('KEYS', pattern).split('\n').filter(Boolean);
  return keys.reduce((n, k) => n + Number(w.redis.raw('GET', k).trim() || 0), 0);
};

async function blast(k, n, body) {
  const agents = w.proxies.map(() => new http.Agent({ keepAlive: true, maxSockets: 300 }));
  const results = await Promise.all(Array.from({ length: n }, (_, i) => httpCall(w.proxies[i % 3].url, {
    method: 'POST', path: '/emails', body: body(i), agent: agents[i % 3],
    headers: { authorization: `Bearer ${k.key}` },
  })));
  agents.forEach((a) => a.destroy());
  return results;
}

test('monthly cap 100, 1000 concurrent sends over 3 instances: exactly 100 forwarded', async () => {
  const k = w.issue();
  w.setControls(k, { monthly_cap: 100 });
  w.fake.reset();
  const results = await blast(k, 1000, () => email());
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] ?? 0) + 1;
  assert.deepEqual(by, { 200: 100, 429: 900 });
  assert.equal(w.fake.received.length, 100, 'Resend received exactly the monthly cap');
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.json.name, 'monthly_quota_exceeded');
    assert.equal(r.json.statusCode, 429);
    const ra = Number(r.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 31 * 86400, `Retry-After ${ra}`);
    assert.equal(r.headers['ratelimit-limit'], '100');
    assert.equal(r.headers['ratelimit-remaining'], '0');
    assert.equal(r.headers['ratelimit-reset'], r.headers['retry-after']);
  }
  for (const r of results.filter((x) => x.status === 200))
    assert.ok(Number(r.headers['x-sendcap-quota-remaining']) < 100);
  assert.equal(counter(`sc:mcnt:${k.id}:*`), 100);
  // A refused send took nothing on the daily counter either.
  assert.equal(counter(`sc:cnt:${k.id}:*`), 100);
});

test('per-recipient cap 3: exactly 3 to one address, other addresses still pass', async () => {
  const k = w.issue();
  w.setControls(k, { per_recipient_cap: 3 });
  w.fake.reset();
  // Case differs: the cap compares addresses case-insensitively.
  const results = await blast(k, 300, (i) => email(i % 2 ? 'Bob@Example.com' : 'bob@example.com'));
  assert.equal(results.filter((r) => r.status === 200).length, 3);
  assert.equal(w.fake.received.length, 3);
  const refused = results.filter((r) => r.status === 429);
  assert.equal(refused.length, 297);
  for (const r of refused) {
    assert.equal(r.json.name, 'recipient_quota_exceeded');
    assert.match(r.json.message, /bob@example\.com \(to\)/i);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  }
  // Other addresses pass; a batch naming the capped one is refused whole.
  let r = await w.call(k.key, 'POST', '/emails', email('carol@example.com'), { proxy: w.proxies[1] });
  assert.equal(r.status, 200, r.text);
  w.fake.reset();
  r = await w.call(k.key, 'POST', '/emails/batch', [email('dave@example.com'), { ...email('erin@example.com'), cc: 'BOB@example.com' }], { proxy: w.proxies[2] });
  errorShape(assert, r, 429, 'recipient_quota_exceeded');
  assert.match(r.json.message, /batch\[1\]\.cc/);
  assert.equal(w.fake.received.length, 0, 'nothing of the batch was sent');
  // An address twice in one send counts twice.
  const k2 = w.issue();
  w.setControls(k2, { per_recipient_cap: 1 });
  r = await w.call(k2.key, 'POST', '/emails', { ...email(['x@example.com', 'X@example.com']) });
  errorShape(assert, r, 429, 'recipient_quota_exceeded');
  assert.equal(w.fake.received.length, 0);
  // The refusals reserved nothing on any counter.
  assert.equal(counter(`sc:cnt:${k2.id}:*`), 0);
  assert.equal(counter(`sc:mcnt:${k2.id}:*`), 0);
});

test('a send Resend refuses gives back every counter it took', async () => {
  const k = w.issue(['--daily-cap', '10']);
  w.setControls(k, { monthly_cap: 10, per_recipient_cap: 1 });
  w.fake.reset();
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'no' } });
  let r = await w.call(k.key, 'POST', '/emails', email(['p@example.com', 'q@example.com']));
  assert.equal(r.status, 422);
  // The refund is applied before the answer is written (read-your-writes).
  assert.equal(counter(`sc:cnt:${k.id}:*`), 0);
  assert.equal(counter(`sc:mcnt:${k.id}:*`), 0);
  assert.equal(counter(`sc:rcnt:${k.id}:*`), 0);
  // So the same recipient can be sent to again, through another instance.
  r = await w.call(k.key, 'POST', '/emails', email(['p@example.com', 'q@example.com']), { proxy: w.proxies[1] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-sendcap-quota-remaining'), '8');
  assert.equal(counter(`sc:rcnt:${k.id}:*`), 2);
  // A permissive batch gives back only the failed element's share.
  const k3 = w.issue(['--daily-cap', '10']);
  w.setControls(k3, { monthly_cap: 10, per_recipient_cap: 1 });
  w.fake.next({ status: 200, body: { data: [{ id: 'e-ok' }], errors: [{ index: 1, message: 'bad' }] } });
  r = await w.call(k3.key, 'POST', '/emails/batch', [email('m1@example.com'), email(['m2@example.com', 'm3@example.com'])],
    { headers: { 'x-batch-validation': 'permissive' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(counter(`sc:cnt:${k3.id}:*`), 1);
  assert.equal(counter(`sc:mcnt:${k3.id}:*`), 1);
  assert.equal(counter(`sc:rcnt:${k3.id}:*`), 1);
  // No address or body in any key name or value (hashes only).
  const dump = w.redis.raw('KEYS', 'sc:rcnt:*') + w.redis.raw('KEYS', 'sc:dd:*');
  assert.doesNotMatch(dump, /@/);
});

test('a refused send with one address three times gives all three back', async () => {
  const k = w.issue(['--daily-cap', '10']);
  w.setControls(k, { per_recipient_cap: 5 });
  await w.call(k.key, 'POST', '/emails', email('r@example.com'));
  assert.equal(counter(`sc:rcnt:${k.id}:*`), 1);
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'no' } });
  const r = await w.call(k.key, 'POST', '/emails', email(['r@example.com', 'R@example.com', 'r@example.com']));
  assert.equal(r.status, 422);
  // the earlier send's count stays; the refused one's three are gone
  assert.equal(counter(`sc:rcnt:${k.id}:*`), 1);
  assert.equal(counter(`sc:cnt:${k.id}:*`), 1);
});
