// key.cap_reached still comes before its 429 when the refused send is
// being handled as a SIGTERM drain starts (SPEC §6; found by the #13
// review): the instance must deliver the event before it answers, as it
// does when not draining, not leave it to another instance after the
// lease, 15 s later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { WebhookReceiver, until } from '../lib/webhook-receiver.mjs';

const w = new World();
const rcv = new WebhookReceiver();
before(async () => {
  await w.start({ proxies: 1 });
  await rcv.start();
  rcv.secret = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--event', 'key.cap_reached', '--json']).stdout).secret;
});
after(async () => { await rcv.stop(); await w.stop(); });

test('a cap refused during drain delivers key.cap_reached before the 429', async () => {
  const k = w.issue(['--daily-cap', '1']);
  const first = await w.call(k.key, 'POST', '/emails',
    { from: 'agent@example.com', to: 'a@example.com', subject: 'one', text: 'hi' });
  assert.equal(first.status, 200);

  // Redis holds the send's script for 700 ms (CLIENT PAUSE WRITE blocks
  // every script), so the call is being handled when SIGTERM comes; then
  // the cap refuses it while the instance drains.
  w.redis.raw('CLIENT', 'PAUSE', '700', 'WRITE');
  const pending = w.call(k.key, 'POST', '/emails',
    { from: 'agent@example.com', to: 'a@example.com', subject: 'two', text: 'hi' });
  await new Promise((r) => setTimeout(r, 250));
  w.proxy.proc.kill('SIGTERM');
  const res = await pending;
  const answeredAt = Date.now();
  assert.match(w.proxy.log, /SIGTERM: no longer accepting; finishing 1 requests in flight/, w.proxy.log);
  assert.equal(res.status, 429, `${JSON.stringify(res)}\n${w.proxy.log}`);
  const got = rcv.of('key.cap_reached');
  assert.equal(got.length, 1, 'delivered by the draining instance itself, before it answered');
  assert.ok(got[0].at <= answeredAt, 'the event reached the webhook before the 429');
  assert.equal((await w.proxy.exited).code, 0);
});
