// An owner notice is sent through the notice upstream, so its attempt lasts
// up to --upstream-timeout, not --webhook-timeout.  Its lease must cover
// that: a lease that runs out while the notice is still on the wire lets a
// second instance take it and send it again (two requests at Resend for
// one event; the first one's outcome is then thrown away).  Here the
// upstream hangs past the webhook lease (1 s + 5 s) but within
// --upstream-timeout 8s: exactly one request reaches it before the
// attempt ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { until, deliveryState } from '../lib/webhook-receiver.mjs';

const args = ['--notice-from', 'sendcap@notices.example.com', '--notice-upstream', 'prod',
  '--webhook-timeout', '1s', '--upstream-timeout', '8s', '--webhook-retry-base', '1h'];
const w = new World();
before(async () => {
  await w.start({ proxies: 2, proxyArgs: args });
  assert.ok(await until(() => w.redis.raw('EXISTS', 'sc:notice').trim() === '1'));
});
after(async () => { await w.stop(); });

const mails = (to) => w.fake.received.filter((r) => r.method === 'POST' && r.url === '/emails' &&
  r.json?.to?.[0] === to);

test('a notice slower than the webhook lease is attempted by one instance only', async () => {
  w.fake.next({ hang: true });
  w.issue(['--owner', 'owner@example.com']);
  const eid = w.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();
  assert.ok(await until(() => mails('owner@example.com').length === 1), 'the notice went out');
  // Wait for the first outcome recorded (the hanging attempt's timeout, or
  // a second instance's delivery).
  assert.ok(await until(() => (deliveryState(w, eid, 'notice')?.attempts ?? 0) >= 1, 30000),
    JSON.stringify(deliveryState(w, eid, 'notice')));
  assert.equal(mails('owner@example.com').length, 1,
    'a second instance sent the notice while the first attempt was still waiting');
  const st = deliveryState(w, eid, 'notice');
  assert.equal(st.state, 'pending', 'the hanging attempt failed and waits for its retry');
  assert.equal(st.attempts, 1);
});
