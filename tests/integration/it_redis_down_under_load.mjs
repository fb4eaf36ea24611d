// Redis killed in the middle of a load: every answer is either a forwarded
// send (200) or 503 service_unavailable; Resend receives exactly the 200s
// (nothing forwarded without a reservation); after Redis restarts, sends
// work again within 2 s and the day's counter covers what was forwarded
// (Redis with appendfsync always loses no acknowledged reservation; a
// reservation whose reply the kill cut off stays counted, the safe side,
// so the counter may exceed the sends by at most the calls in flight).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { World, httpCall, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 3 }); });
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('fail closed under load, then recover', async () => {
  const k = w.issue(['--daily-cap', '1000000']);
  const agents = w.proxies.map(() => new http.Agent({ keepAlive: true, maxSockets: 20 }));
  const results = [];
  let killed = false;
  let i = 0;
  const total = 3000;
  async function worker() {
    while (i < total) {
      const n = i++;
      if (n === 1000 && !killed) { killed = true; await w.redis.stop(); }
      const r = await httpCall(w.proxies[n % 3].url, { method: 'POST', path: '/emails', body: email,
        agent: agents[n % 3], headers: { authorization: `Bearer ${k.key}` } });
      results.push({ n, status: r.status, name: r.json?.name });
    }
  }
  await Promise.all(Array.from({ length: 60 }, worker));
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] ?? 0) + 1;
  console.log(`# ${total} sends, Redis killed at #1000: ${JSON.stringify(by)}; fake received ${w.fake.received.length}`);
  assert.deepEqual(Object.keys(by).sort(), ['200', '503'], 'only 200 and 503');
  assert.ok(results.filter((r) => r.status === 503).every((r) => r.name === 'service_unavailable'));
  assert.equal(w.fake.received.length, by[200], 'Resend received exactly the 200s');
  assert.ok(by[503] >= 1900, 'everything after the kill was refused');
  for (const p of w.proxies) assert.equal(p.proc.exitCode, null, 'every daemon stayed up');

  await w.redis.start();
  const t0 = Date.now();
  for (const p of w.proxies) {
    let status = 0;
    while (Date.now() - t0 < 5000) {
      status = (await w.call(k.key, 'POST', '/emails', email, { proxy: p })).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200);
  }
  const took = Date.now() - t0;
  console.log(`# all three instances served again ${took} ms after Redis restarted`);
  assert.ok(took < 2000, `recovered in ${took} ms`);
  const ck = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).trim();
  const counted = Number(w.redis.raw('GET', ck));
  console.log(`# counter ${counted}, forwarded ${w.fake.received.length}`);
  assert.ok(counted >= w.fake.received.length, 'no send without a reservation');
  assert.ok(counted - w.fake.received.length <= 60, 'only calls in flight at the kill may be over-counted');
  agents.forEach((a) => a.destroy());
});
