// The events a send causes (SPEC §6), written by call.lua in the send's one
// round trip, through three sendcapd on one Redis: key.usage_threshold once
// per threshold per window, key.cap_reached once per window, key.denied and
// key.rate_limited at most one a minute per key family, each carrying the
// refusals since the last one.  The stream itself is what is asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 3 }); });
after(async () => { await w.stop(); });

const email = (to = 'a@example.com', extra = {}) => varied({ from: 'agent@example.com', to, subject: 'hi', text: 'hi', ...extra });
const events = (key) => JSON.parse(w.redis.raw('EVAL', "return cjson.encode(redis.call('XRANGE', 'sc:events', '-', '+'))", '0'))
  .map(([id, f]) => { const o = { id }; for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1]; o.data = JSON.parse(o.data); return o; })
  .filter((e) => e.key === key && e.type !== 'key.issued' && e.type !== 'key.updated');
const types = (evs) => evs.map((e) => (e.type === 'key.usage_threshold' ? `${e.type}:${e.data.window}:${e.data.percent}` : e.type)).sort();
const via = (i) => ({ proxy: w.proxies[i % 3] });
// The minute of key.denied / key.rate_limited passes (Redis's clock is not ours).
const minutePassed = (k, what) => w.redis.raw('HSET', `sc:evx:${k.id}`, `${what}_at`, '1');

test('cap 10, --alert-at 50,80,100, 12 concurrent sends over three instances: each threshold once, cap_reached once', async () => {
  const k = w.issue(['--daily-cap', '10', '--alert-at', '50,80,100', '--owner', 'o@example.com', '--name', 'bot']);
  w.fake.reset();
  const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => w.call(k.key, 'POST', '/emails', email(), via(i))));
  assert.deepEqual(rs.map((r) => r.status).sort(), [...Array(10).fill(200), 429, 429]);
  assert.equal(w.fake.received.length, 10);
  const evs = events(k.id);
  assert.deepEqual(types(evs), ['key.cap_reached', 'key.usage_threshold:day:100', 'key.usage_threshold:day:50',
    'key.usage_threshold:day:80']);
  const t50 = evs.find((e) => e.data.percent === 50);
  assert.deepEqual(t50.data, { key_id: k.id, name: 'bot', owner: 'o@example.com', window: 'day', percent: 50, used: 5, cap: 10 });
  assert.equal(t50.family, k.id);
  const cr = evs.find((e) => e.type === 'key.cap_reached');
  assert.equal(cr.data.used, 10);
  assert.equal(cr.data.cap, 10);
  assert.match(cr.data.resets_at, /^\d{4}-\d\d-\d\dT00:00:00\.000Z$/);
  // More refusals in the same day: nothing new.
  for (let i = 0; i < 3; i++) assert.equal((await w.call(k.key, 'POST', '/emails', email(), via(i))).status, 429);
  assert.equal(events(k.id).length, 4);
  for (const e of events(k.id)) assert.doesNotMatch(JSON.stringify(e), /vk_|re_/);
});

test('a batch crossing several thresholds at once fires each', async () => {
  const k = w.issue(['--daily-cap', '10', '--alert-at', '50,80,100']);
  const r = await w.call(k.key, 'POST', '/emails/batch', [email(['a@example.com', 'b@example.com', 'c@example.com',
    'd@example.com', 'e@example.com', 'f@example.com', 'g@example.com', 'h@example.com'])]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(types(events(k.id)), ['key.usage_threshold:day:50', 'key.usage_threshold:day:80']);
  assert.equal((await w.call(k.key, 'POST', '/emails', email(['a@example.com', 'b@example.com']), via(1))).status, 200);
  assert.deepEqual(types(events(k.id)), ['key.usage_threshold:day:100', 'key.usage_threshold:day:50',
    'key.usage_threshold:day:80']);
});

test('a key issued without --alert-at alerts at SPEC §6\'s default 80,100', async () => {
  const k = w.issue(['--daily-cap', '5']);
  for (let i = 0; i < 5; i++) assert.equal((await w.call(k.key, 'POST', '/emails', email(), via(i))).status, 200);
  assert.deepEqual(types(events(k.id)), ['key.usage_threshold:day:100', 'key.usage_threshold:day:80']);
  const who = await w.call(k.key, 'GET', '/sendcap/v1/whoami');
  assert.equal(who.json.policy.alert_at, '80,100', 'whoami shows the default in force');
});

test('monthly cap: thresholds and cap_reached in the month window; --alert-at none fires no threshold', async () => {
  const k = w.issue(['--monthly-cap', '4', '--alert-at', '50']);
  for (let i = 0; i < 5; i++) await w.call(k.key, 'POST', '/emails', email(), via(i));
  const evs = events(k.id);
  assert.deepEqual(types(evs), ['key.cap_reached', 'key.usage_threshold:month:50']);
  assert.equal(evs.find((e) => e.type === 'key.cap_reached').data.window, 'month');
  const quiet = w.issue(['--daily-cap', '1', '--alert-at', 'none']);
  await w.call(quiet.key, 'POST', '/emails', email());
  assert.deepEqual(types(events(quiet.id)), [], 'no threshold without alerts');
  await w.call(quiet.key, 'POST', '/emails', email());
  assert.deepEqual(types(events(quiet.id)), ['key.cap_reached'], 'cap_reached does not depend on alert_at');
});

test('key.denied: one a minute per family over three instances, then the count of refusals since', async () => {
  const k = w.issue(['--to-domain', 'example.com']);
  w.fake.reset();
  const rs = await Promise.all(Array.from({ length: 9 }, (_, i) => w.call(k.key, 'POST', '/emails', email('x@evil.test'), via(i))));
  assert.ok(rs.every((r) => r.status === 403));
  assert.equal(w.fake.received.length, 0);
  let evs = events(k.id);
  assert.deepEqual(types(evs), ['key.denied']);
  assert.equal(evs[0].data.reason, 'to_domain');
  assert.equal(evs[0].data.count, 1);
  minutePassed(k, 'denied');
  assert.equal((await w.call(k.key, 'POST', '/emails', email('y@evil.test'), via(2))).status, 403);
  evs = events(k.id);
  assert.equal(evs.length, 2);
  assert.equal(evs[1].data.count, 9, 'the 8 held back and this one');
  assert.doesNotMatch(JSON.stringify(evs), /evil\.test/, 'no address in the event');
});

test('key.denied names from, to, scope and header rules, and not_own; a malformed body is no event', async () => {
  const cases = [
    [['--from-domain', 'example.com'], 'POST', '/emails', email('a@example.com', { from: 'x@other.test' }), 'from_domain'],
    [['--from-domain', 'example.com'], 'POST', '/emails', { to: 'a@example.com', subject: 's', text: 't' }, 'from_required'],
    [[], 'GET', '/domains', undefined, 'scope'],
    [[], 'GET', '/api-keys', undefined, 'scope'],
    [[], 'POST', '/emails', email('a@example.com', { headers: { Bcc: 'x@example.com' } }), 'header'],
    [[], 'POST', '/emails', email('a@example.com', { headers: { 'X-A': 'a\r\nBcc: x@example.com' } }), 'header'],
    [[], 'GET', '/emails/em_not_mine', undefined, 'not_own_email'],
    [[], 'POST', '/emails', '{"to": ', null],
    [[], 'POST', '/emails', email('a@example.com', { colour: 'red' }), null],
    [[], 'POST', '/emails', email('a@example.com', { headers: { 'X-A': 7 } }), null],
  ];
  for (const [args, method, p, body, reason] of cases) {
    const k = w.issue(args);
    const r = await w.call(k.key, method, p, body);
    assert.ok(r.status >= 400, `${reason}: ${r.status}`);
    const evs = events(k.id);
    assert.deepEqual(evs.map((e) => e.data.reason), reason ? [reason] : [], `${method} ${p} ${JSON.stringify(body)}: ${r.text}`);
  }
});

test('key.rate_limited: one a minute per family, with the count since', async () => {
  const k = w.issue(['--rate', '2/m']);
  const st = [];
  for (let i = 0; i < 5; i++) st.push((await w.call(k.key, 'GET', '/sendcap/v1/whoami', undefined, via(i))).status);
  assert.equal(st.filter((s) => s === 429).length, 3);
  let evs = events(k.id).filter((e) => e.type === 'key.rate_limited');
  assert.equal(evs.length, 1);
  assert.deepEqual({ ...evs[0].data, key_id: undefined }, { key_id: undefined, name: '', owner: '', count: 1, limit: 2, window_ms: 60000 });
  minutePassed(k, 'rate');
  assert.equal((await w.call(k.key, 'GET', '/sendcap/v1/whoami', undefined, via(1))).status, 429);
  evs = events(k.id).filter((e) => e.type === 'key.rate_limited');
  assert.equal(evs.length, 2);
  assert.equal(evs[1].data.count, 3);
});
