// Callers without a working key cannot fill Redis (SPEC §3): their refusals
// are recorded one by one up to 50 a second per client address, the rest
// counted into one unauthenticated_flood record a second, and every refused
// call is accounted for exactly.  A Redis that refuses writes for memory is
// named as such in the 503 and the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { World, errorShape, httpCall, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const N = 20000;
const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });
const usedMemory = () => Number(/used_memory:(\d+)/.exec(w.redis.raw('INFO', 'memory'))[1]);

test(`${N} calls without a working key: bounded records, every call counted`, async () => {
  const k = w.issue();
  // Settle Redis first: the key's own writes are not the flood's.
  assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 200);
  await w.waitForLog(1);
  const mem0 = usedMemory();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const statuses = {};
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < N) {
      const i = next++;
      const headers = { 'x-agent-run-id': `flood-${i}` };
      if (i % 2) headers.authorization = `Bearer vk_${String(i).padStart(43, 'A')}`;
      const r = await httpCall(w.proxy.url, { method: 'POST', path: '/emails', headers, body: email, agent });
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  }));
  const seconds = Math.ceil((Date.now() - t0) / 1000) + 1;
  agent.destroy();
  assert.deepEqual(statuses, { 401: N / 2, 403: N / 2 });

  // A real agent is still served, and recorded one by one.
  const ok = await w.call(k.key, 'POST', '/emails', email);
  assert.equal(ok.status, 200);

  // Every refused call is in a record: one each, or a summary's count.
  let rows = [];
  let total = 0;
  for (let i = 0; i < 100 && total < N; i++) {
    await new Promise((r) => setTimeout(r, 100));
    rows = w.cli(['log', 'query', '--limit', '100000', '--format', 'json']).stdout.trim().split('\n')
      .map((l) => JSON.parse(l)).filter((r) => !r.key_id.startsWith('key_'));
    total = rows.reduce((n, r) => n + (r.count ?? 1), 0);
  }
  assert.equal(total, N, 'each refused call once, in a record or a count');
  const summaries = rows.filter((r) => r.reason === 'unauthenticated_flood');
  const single = rows.filter((r) => r.reason !== 'unauthenticated_flood');
  assert.ok(summaries.length > 0, 'the flood was summarised');
  for (const s of summaries) {
    assert.equal(s.client, '127.0.0.1');
    assert.equal(s.decision, 'denied');
    assert.ok(s.count > 0);
  }
  assert.ok(single.length <= 50 * seconds, `${single.length} single records in ${seconds} s`);
  assert.ok(single.every((r) => r.count === null), 'a single record has no count');
  assert.match(w.proxy.log, /calls without a known vault key from 127\.0\.0\.1 in the last second were counted/);

  const mine = await w.waitForLog(2, ['--key', k.id]);
  assert.equal(mine.at(-1).request_id, ok.headers.get('x-request-id'));

  const grown = usedMemory() - mem0;
  console.log(`# redis used_memory grew by ${grown} bytes for ${N} calls without a key ` +
    `(${single.length} single records, ${summaries.length} summaries)`);
  assert.ok(grown < 1024 * 1024, `Redis grew ${grown} bytes`);
  assert.equal(w.cli(['log', 'verify']).code, 0, 'the summaries are chained like any record');
});

test('a revoked key is bounded like an unknown one', async () => {
  const k = w.issue();
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  const M = 3000;
  const t0 = Date.now();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < M) {
      next++;
      const r = await httpCall(w.proxy.url, { path: '/emails/x', headers: { authorization: `Bearer ${k.key}` }, agent });
      assert.equal(r.status, 403);
    }
  }));
  const seconds = Math.ceil((Date.now() - t0) / 1000) + 1;
  agent.destroy();
  const json = (args) => w.cli(['log', 'query', ...args, '--format', 'json']).stdout.trim().split('\n')
    .filter(Boolean).map((l) => JSON.parse(l));
  // The key's own records first, at most 1,000 (all of them, before the bound).
  let mine = json(['--key', k.id, '--limit', '1000']);
  assert.ok(mine.length <= 50 * seconds, `${mine.length} single records in ${seconds} s`);
  assert.ok(mine.every((r) => r.reason === 'revoked'));
  let counted = 0;
  for (let i = 0; i < 100 && mine.length + counted < M; i++) {
    await new Promise((r) => setTimeout(r, 100));
    mine = json(['--key', k.id, '--limit', '1000']);
    counted = json(['--since', new Date(t0).toISOString(), '--limit', '100000'])
      .filter((r) => r.reason === 'unauthenticated_flood').reduce((n, r) => n + r.count, 0);
  }
  assert.equal(mine.length + counted, M, 'each refusal once, in a record or a count');
});

test('Redis out of memory: 503 says so, and so does the log', async () => {
  const k = w.issue();
  w.redis.cli('CONFIG', 'SET', 'maxmemory', '1');
  try {
    const r = await w.call(k.key, 'POST', '/emails', email);
    errorShape(assert, r, 503, 'service_unavailable');
    assert.match(r.json.message, /out of memory/);
    assert.doesNotMatch(r.json.message, /cannot reach/);
    assert.match(w.proxy.log, /out of memory \(maxmemory\)/);
  } finally {
    w.redis.cli('CONFIG', 'SET', 'maxmemory', '0');
  }
  const sent = w.fake.received.length;
  assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 200, 'recovers by itself');
  assert.equal(w.fake.received.length, sent + 1);
});
