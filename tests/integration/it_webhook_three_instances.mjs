// Webhook delivery through three sendcapd instances (SPEC §6): every event
// reaches each webhook whose filters take it exactly once, signed with the
// Standard Webhooks scheme (checked by the receiver's own HMAC code), and
// nothing reaches a webhook after its removal; `webhook test` reports the
// outcome.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { WebhookReceiver, until, cliAsync, deliveryState } from '../lib/webhook-receiver.mjs';

const w = new World();
const all = new WebhookReceiver();
const revokes = new WebhookReceiver();
const oneKey = new WebhookReceiver();
const hooks = {};
before(async () => {
  await w.start({ proxies: 3 });
  for (const [name, r, args] of [['all', all, []], ['revokes', revokes, ['--event', 'key.revoked']]]) {
    await r.start();
    const add = JSON.parse(w.cli(['webhook', 'add', r.url, '--json', ...args]).stdout);
    r.secret = add.secret;
    hooks[name] = add.id;
  }
});
after(async () => {
  for (const r of [all, revokes, oneKey]) await r.server.listening && r.stop();
  await w.stop();
});

test('each event once per matching webhook, signed, across three instances', async () => {
  const a = w.issue(['--name', 'alpha']);
  const b = w.issue(['--name', 'beta']);
  await oneKey.start();
  const add = JSON.parse(w.cli(['webhook', 'add', oneKey.url, '--json', '--key', b.id]).stdout);
  oneKey.secret = add.secret;
  assert.equal(w.cli(['key', 'update', a.id, '--daily-cap', '5']).code, 0);
  assert.equal(w.cli(['key', 'rotate', b.id]).code, 0);
  assert.equal(w.cli(['key', 'revoke', a.id]).code, 0);
  assert.equal(w.cli(['key', 'revoke', b.id]).code, 0);

  // all: 2 issued + updated + rotated + the new key's issue? (rotate emits one key.rotated) + 2 revoked
  const want = w.redis.raw('XLEN', 'sc:events').trim();
  assert.ok(await until(() => all.deliveries.length >= Number(want)), `all got ${all.deliveries.length} of ${want}`);
  assert.ok(await until(() => revokes.deliveries.length >= 2));
  assert.ok(await until(() => oneKey.deliveries.length >= 2));
  await new Promise((r) => setTimeout(r, 2500)); // room for any duplicate to arrive

  assert.equal(all.rejected.length + revokes.rejected.length + oneKey.rejected.length, 0, 'every signature verified');
  const ids = all.deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
  assert.equal(ids.length, Number(want), 'every event of the stream delivered to the all-events webhook');
  for (const id of ids) assert.match(id, /^evt_\d+-\d+$/);
  assert.deepEqual(all.deliveries.map((d) => d.body.type).sort(),
    ['key.issued', 'key.issued', 'key.revoked', 'key.revoked', 'key.rotated', 'key.updated']);
  for (const d of all.deliveries) {
    assert.deepEqual(Object.keys(d.body).sort(), ['created_at', 'data', 'type']);
    assert.match(d.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  assert.deepEqual(revokes.deliveries.map((d) => [d.body.type, d.body.data.key_id]).sort(),
    [['key.revoked', a.id], ['key.revoked', b.id]].sort());
  // The key filter holds for the family: b's rotation and its revocation.
  assert.deepEqual(oneKey.deliveries.map((d) => d.body.type).sort(), ['key.revoked', 'key.rotated']);
  assert.ok(oneKey.deliveries.every((d) => d.body.data.key_id === b.id));
  // Every state says delivered, after one attempt.
  const eid = ids[0].slice(4);
  assert.deepEqual((({ state, attempts, lastStatus }) => ({ state, attempts, lastStatus }))(deliveryState(w, eid, hooks.all)),
    { state: 'delivered', attempts: 1, lastStatus: '200' });
  assert.equal(w.redis.raw('ZCARD', 'sc:whq').trim(), '0', 'nothing left queued');
});

test('webhook test reports the outcome; a removed webhook gets nothing more', async () => {
  const ok = await cliAsync(w, ['webhook', 'test', hooks.revokes]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /delivered: HTTP 200/);
  assert.equal(revokes.of('webhook.test').length, 1);
  assert.equal(all.of('webhook.test').length, 0, 'a test event goes to its webhook only');

  revokes.next({ status: 500 });
  const bad = await cliAsync(w, ['webhook', 'test', hooks.revokes]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /not delivered: the receiver answered HTTP 500; next attempt at \d{4}-/);

  const before = all.deliveries.length;
  assert.equal(w.cli(['webhook', 'remove', hooks.all]).code, 0);
  w.issue();
  assert.ok(await until(() => oneKey.deliveries.length >= 2 && w.redis.raw('ZCARD', 'sc:whq').trim() === '1'));
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(all.deliveries.length, before, 'nothing after removal');
});
