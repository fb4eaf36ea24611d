// The daily cap is exact across instances: three sendcapd on one Redis,
// cap 100, 2,000 concurrent single-recipient sends spread over them ->
// Resend receives exactly 100; the agents get exactly 100 x 200 and
// 1,900 x 429 with Retry-After.  Batches count per recipient.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { World, httpCall, varied } from '../lib/harness.mjs';

const w = new World();
// 700 sockets per instance from one address: above the default
// --max-conns-per-client (512), which this test is not about.
before(async () => { await w.start({ proxies: 3, proxyArgs: ['--max-conns-per-client', '1000'] }); });
after(async () => { await w.stop(); });

const email = (to = 'a@example.com') => varied({ from: 'agent@example.com', to, subject: 'hi', text: 'hi' });

test('cap 100, 2000 concurrent sends over 3 instances', async () => {
  const k = w.issue(['--daily-cap', '100']);
  const agents = w.proxies.map(() => new http.Agent({ keepAlive: true, maxSockets: 700 }));
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => httpCall(w.proxies[i % 3].url, {
    method: 'POST', path: '/emails', body: email(), agent: agents[i % 3],
    headers: { authorization: `Bearer ${k.key}` },
  })));
  const ms = Date.now() - t0;
  agents.forEach((a) => a.destroy());
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] ?? 0) + 1;
  console.log(`# 2000 sends in ${ms} ms: ${JSON.stringify(by)}; fake received ${w.fake.received.length}`);
  assert.deepEqual(by, { 200: 100, 429: 1900 });
  assert.equal(w.fake.received.length, 100, 'Resend received exactly the cap');
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.json.name, 'daily_quota_exceeded');
    const ra = Number(r.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 86400, `Retry-After ${ra}`);
    assert.equal(r.headers['ratelimit-limit'], '100');
    assert.equal(r.headers['ratelimit-remaining'], '0');
  }
  // Each instance served some of each.
  const per = [0, 1, 2].map((p) => results.filter((r, i) => i % 3 === p && r.status === 200).length);
  assert.equal(per.reduce((a, b) => a + b), 100);
  // The counter in Redis equals what was forwarded.
  const counters = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).split('\n').filter(Boolean);
  assert.equal(counters.length, 1);
  assert.equal(w.redis.raw('GET', counters[0]).trim(), '100');
});

test('batches count per recipient, all or nothing', async () => {
  const k = w.issue(['--daily-cap', '10']);
  w.fake.reset();
  const call = (body) => w.call(k.key, 'POST', '/emails/batch', body, { proxy: w.proxies[1] });
  // 3 emails, 2 + 1 + 3 recipients = 6
  let r = await call([email(['a@example.com', 'b@example.com']), email(), { ...email(), cc: 'c@example.com', bcc: 'd@example.com' }]);
  assert.equal(r.status, 200, r.text);
  // 5 more would straddle the cap (6 + 5 > 10): refused whole, nothing sent
  r = await call([email(['a@example.com', 'b@example.com', 'c@example.com']), email(['d@example.com', 'e@example.com'])]);
  assert.equal(r.status, 429);
  assert.match(r.json.message, /has used 6 of its 10 sends today and this request needs 5/);
  assert.equal(r.headers.get('ratelimit-remaining'), '4');
  // exactly to the cap
  r = await call([email(['a@example.com', 'b@example.com']), email(['c@example.com', 'd@example.com'])]);
  assert.equal(r.status, 200, r.text);
  r = await w.call(k.key, 'POST', '/emails', email());
  assert.equal(r.status, 429);
  assert.equal(w.fake.received.length, 2);
});

test('Retry-After is the time to the next 00:00 UTC by Redis clock', async () => {
  const k = w.issue(['--daily-cap', '0']);
  const r = await w.call(k.key, 'POST', '/emails', email());
  assert.equal(r.status, 429);
  const now = Date.now();
  const midnight = Math.floor(now / 86400000 + 1) * 86400000;
  const expect = Math.ceil((midnight - now) / 1000);
  const got = Number(r.headers.get('retry-after'));
  assert.ok(Math.abs(got - expect) <= 2, `Retry-After ${got}, expected about ${expect}`);
  assert.equal(r.headers.get('ratelimit-reset'), String(got));
  assert.match(r.json.message, /resets at \d{4}-\d\d-\d\dT00:00:00\.000Z/);
});
