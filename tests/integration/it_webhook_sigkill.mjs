// SIGKILL of the instance holding an unacknowledged delivery (SPEC §6):
// its lease runs out and another instance delivers the event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { WebhookReceiver, until, deliveryState } from '../lib/webhook-receiver.mjs';

const args = ['--webhook-timeout', '2s'];
const w = new World();
const rcv = new WebhookReceiver();
before(async () => { await w.start({ proxies: 1, proxyArgs: args }); await rcv.start(); });
after(async () => { await rcv.stop(); await w.stop(); });

test('the holder dies mid-attempt; another instance delivers', async () => {
  const { id, secret } = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--json']).stdout);
  rcv.secret = secret;
  rcv.next({ hang: true });
  const k = w.issue();
  const eid = w.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();
  assert.ok(await until(() => rcv.deliveries.length === 1));
  const holder = w.proxy;
  await holder.stop('SIGKILL');
  // Held, not recorded: the dead instance never said how it ended.
  assert.equal(deliveryState(w, eid, id).attempts, 0);
  await w.addProxy(args);
  assert.ok(await until(() => rcv.of('key.issued').length === 1, 20000), 'delivered by the other instance');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(rcv.deliveries.length, 2, 'the held attempt and the one that succeeded');
  assert.equal(rcv.deliveries[1].id, rcv.deliveries[0].id, 'the same event');
  assert.equal(rcv.deliveries[1].body.data.key_id, k.id);
  const st = deliveryState(w, eid, id);
  assert.equal(st.state, 'delivered');
  assert.equal(st.attempts, 1);
});
