// Webhook retries (SPEC §6): a receiver that answers 503 three times gets
// the event once it is up, after four attempts, all visible in the
// delivery state and in `event list`; a receiver that is never up leaves the event pending
// with its next attempt, and nothing is lost when every sendcapd restarts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, freePort } from '../lib/harness.mjs';
import { WebhookReceiver, until, deliveryState } from '../lib/webhook-receiver.mjs';

const args = ['--webhook-retry-base', '1s', '--webhook-timeout', '2s'];
const w = new World();
before(async () => { await w.start({ proxies: 2, proxyArgs: args }); });
after(async () => { await w.stop(); });

const lastEvent = () => w.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();

test('503 three times, then up: delivered once, after four attempts', async () => {
  const rcv = await new WebhookReceiver().start();
  const { id, secret } = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--json']).stdout);
  rcv.secret = secret;
  for (let i = 0; i < 3; i++) rcv.next({ status: 503 });
  const k = w.issue();
  const eid = lastEvent();
  // The schedule each failed attempt left (next_at - last_at, by the
  // daemon's clock), read between attempts: no wall-clock gap is judged.
  const delays = new Map();
  const watch = setInterval(() => {
    const s = deliveryState(w, eid, id);
    if (s?.state === 'pending' && s.attempts > 0) delays.set(s.attempts, s.nextAt - s.lastAt);
  }, 50);
  const delivered = await until(() => rcv.of('key.issued').length === 1, 30000);
  clearInterval(watch);
  assert.ok(delivered, `deliveries: ${JSON.stringify(rcv.deliveries.map((d) => d.status))}`);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(rcv.deliveries.map((d) => d.status), [503, 503, 503, 200]);
  assert.equal(new Set(rcv.deliveries.map((d) => d.id)).size, 1, 'one event, one webhook-id on every attempt');
  assert.equal(rcv.deliveries[0].body.data.key_id, k.id);
  const st = deliveryState(w, eid, id);
  assert.equal(st.state, 'delivered');
  assert.equal(st.attempts, 4);
  assert.equal(st.lastStatus, '200');
  // Backoff: base 1 s, doubling, ±20 % jitter, as scheduled after attempts 1, 2 and 3.
  assert.deepEqual([...delays.keys()].sort(), [1, 2, 3], `schedules seen: ${JSON.stringify([...delays])}`);
  for (const [n, base] of [[1, 1000], [2, 2000], [3, 4000]]) {
    const d = delays.get(n);
    assert.ok(d >= base * 0.8 && d <= base * 1.2, `after attempt ${n}: ${d} ms, expected ${base} ms ±20 %`);
  }
  // The attempts are what `event list` shows.
  const ev = w.cli(['event', 'list', '--key', k.id, '--type', 'key.issued', '--json']).stdout.trim().split('\n')
    .map((l) => JSON.parse(l));
  const shown = ev[0].deliveries.find((d) => d.target === id);
  assert.equal(shown.state, 'delivered');
  assert.equal(shown.attempts, 4);
  assert.equal(shown.last_status, 200);
  await rcv.stop();
  assert.equal(w.cli(['webhook', 'remove', id]).code, 0);
});

test('never up: pending with a next attempt; survives a restart of every sendcapd', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/hook`;
  const { id, secret } = JSON.parse(w.cli(['webhook', 'add', url, '--json']).stdout);
  const k = w.issue();
  const eid = lastEvent();
  assert.ok(await until(() => (deliveryState(w, eid, id)?.attempts ?? 0) >= 2, 20000));
  const st = deliveryState(w, eid, id);
  assert.equal(st.state, 'pending');
  assert.equal(st.lastStatus, '', 'no answer');
  const now = Number(w.redis.raw('TIME').split('\n')[0]) * 1000;
  assert.ok(st.nextAt > st.lastAt && st.nextAt > now - 1000, `next attempt ${st.nextAt} after ${st.lastAt}`);
  const listed = w.cli(['event', 'list', '--key', k.id, '--type', 'key.issued', '--json']).stdout.trim()
    .split('\n').map((l) => JSON.parse(l))[0].deliveries.find((d) => d.target === id);
  assert.equal(listed.state, 'pending');
  assert.ok(listed.attempts >= 2 && listed.next_at, `event list shows the next attempt: ${JSON.stringify(listed)}`);

  for (const p of w.proxies) await p.stop('SIGTERM');
  w.proxies.length = 0;
  assert.equal(w.redis.raw('ZSCORE', 'sc:whq', `${eid}|${id}`).trim() !== '', true, 'still queued');

  const rcv = await new WebhookReceiver(secret).start(port);
  await w.addProxy(args);
  await w.addProxy(args);
  assert.ok(await until(() => rcv.of('key.issued').length === 1, 30000));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(rcv.deliveries.length, 1, 'delivered once');
  assert.equal(rcv.rejected.length, 0);
  assert.equal(rcv.deliveries[0].body.data.key_id, k.id);
  assert.equal(rcv.deliveries[0].id, `evt_${eid}`);
  assert.equal(deliveryState(w, eid, id).state, 'delivered');
  await rcv.stop();
});
