// Owner notices that no instance can ever send must leave the delivery
// queue (sc:whq).  With the notice upstream removed while sendcapd still
// names it, every notice-worthy event queued a notice that stayed due
// forever: the queue grew without end, and once more of them stood first
// than a take looks at, no webhook was delivered by any instance again.
// They are now marked failed and dropped when a take finds them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { WebhookReceiver, until, deliveryState } from '../lib/webhook-receiver.mjs';

const w = new World();
const rcv = new WebhookReceiver();
before(async () => {
  await w.start({ proxies: 0 });
  assert.equal(w.cli(['upstream', 'add', 'notices'], { input: `${w.realKey}\n` }).code, 0);
  await w.addProxy(['--notice-from', 'sendcap@notices.example.com', '--notice-upstream', 'notices']);
  await rcv.start();
  assert.ok(await until(() => w.redis.raw('EXISTS', 'sc:notice').trim() === '1'));
});
after(async () => { await rcv.stop(); await w.stop(); });

test('notices of a removed notice upstream are dropped as failed, and webhooks still flow', async () => {
  assert.equal(w.cli(['upstream', 'remove', 'notices']).code, 0);
  // More stranded notices than a take looks at (4 x 32 in flight).
  const before = w.fake.received.length;
  for (let i = 0; i < 140; i++) w.issue(['--owner', `owner${i}@example.com`]);
  const eid = w.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();
  assert.ok(await until(() => w.redis.raw('ZCARD', 'sc:whq').trim() === '0', 20000),
    `stranded notices left queued: ${w.redis.raw('ZCARD', 'sc:whq').trim()}`);
  const st = deliveryState(w, eid, 'notice');
  assert.equal(st.state, 'failed', JSON.stringify(st));
  assert.equal(w.fake.received.length, before, 'nothing was sent for them');

  const { id, secret } = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--json']).stdout);
  rcv.secret = secret;
  const k = w.issue(['--owner', 'late@example.com']);
  assert.ok(await until(() => rcv.of('key.issued').length === 1), 'the webhook is delivered');
  assert.equal(rcv.of('key.issued')[0].body.data.key_id, k.id);
  assert.ok(id.startsWith('wh_'));
});

test('notices queued while a notice-sending instance ran are dropped once none has for an hour', async () => {
  const w2 = new World();
  await w2.start({ proxies: 1 }); // sends no notices
  try {
    // What the last notice-sending instance left behind: sc:notice, about
    // to lapse (it lasts an hour after its last take).
    w2.redis.raw('SET', 'sc:notice', '1', 'PX', '1500');
    w2.issue(['--owner', 'owner@example.com']);
    const eid = w2.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();
    assert.equal(deliveryState(w2, eid, 'notice').state, 'pending', 'queued while sc:notice lived');
    assert.ok(await until(() => w2.redis.raw('ZCARD', 'sc:whq').trim() === '0', 15000), 'left queued');
    assert.equal(deliveryState(w2, eid, 'notice').state, 'failed');
    assert.ok(!w2.fake.received.some((r) => r.url === '/emails'), 'nothing sent');
  } finally {
    await w2.stop();
  }
});
