// key.cap_reached before the 429 (SPEC §6, issue #13): cap 10, alert at
// 50/80/100 %, 12 sends through three instances.  The 11th send is the
// first refused: the instance that refuses it delivers the event's webhook
// first (proxy_webhook_hold), so the receiver has it before the agent has
// its 429.  Each event reaches the webhook exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { WebhookReceiver, until } from '../lib/webhook-receiver.mjs';

const w = new World();
const rcv = new WebhookReceiver();
const order = []; // what happened, in the order this process saw it
before(async () => {
  await w.start({ proxies: 3 });
  await rcv.start();
  const { secret } = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--json']).stdout);
  rcv.secret = secret;
  const push = rcv.deliveries.push.bind(rcv.deliveries);
  rcv.deliveries.push = (d) => { order.push(`delivery ${d.body.type}`); return push(d); };
});
after(async () => { await rcv.stop(); await w.stop(); });

test('cap_reached reaches the webhook before the 11th send\'s 429; each event once', async () => {
  const k = w.issue(['--daily-cap', '10', '--alert-at', '50,80,100', '--dedupe-window', '0']);
  const statuses = [];
  for (let i = 0; i < 12; i++) {
    const p = w.proxies[i % 3];
    const res = await w.call(k.key, 'POST', '/emails',
      { from: 'agent@example.com', to: 'a@example.com', subject: `n${i}`, text: 'hi' }, { proxy: p });
    statuses.push(res.status);
    order.push(`answer ${i + 1} ${res.status}`);
  }
  assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
  assert.ok(await until(() => rcv.of('key.cap_reached').length >= 1 && rcv.of('key.usage_threshold').length >= 3),
    'key.cap_reached and the 50/80/100 % thresholds delivered');
  await new Promise((r) => setTimeout(r, 2500)); // room for a duplicate
  const caps = rcv.of('key.cap_reached');
  assert.equal(caps.length, 1, 'one key.cap_reached');
  assert.equal(caps[0].body.data.key_id, k.id);
  const at = order.indexOf('delivery key.cap_reached');
  const answer11 = order.indexOf('answer 11 429');
  assert.ok(at >= 0 && at < answer11, `delivered before the 11th answer: ${order.join(', ')}`);
  const pct = rcv.of('key.usage_threshold').map((d) => JSON.stringify(d.body.data)).sort();
  assert.equal(pct.filter((s) => /"percent":50\b/.test(s)).length, 1, pct.join('\n'));
  assert.equal(pct.filter((s) => /"percent":80\b/.test(s)).length, 1, pct.join('\n'));
  const ids = rcv.deliveries.filter((d) => d.status === 200).map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
  assert.equal(rcv.rejected.length, 0);
});
