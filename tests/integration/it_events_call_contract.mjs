// call.lua's reply contract for events (SPEC §6), run straight against a
// real Redis with no sendcapd (so no delivery worker moves a lease): the
// 'cap' and 'mcap' replies carry one more element, the id of the
// key.cap_reached this call emitted ("" when it emitted none), and that
// event's deliveries are queued leased for ARGV[14] ms; ARGV[13] names
// key.denied's reason in "deny" mode ("" = no event).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, luaScript } from '../lib/harness.mjs';

const script = luaScript('call.lua');

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

const json = (cmd) => JSON.parse(w.redis.raw('EVAL', cmd, '0'));
const events = () => json("return cjson.encode(redis.call('XRANGE', 'sc:events', '-', '+'))")
  .map(([id, f]) => { const o = { id }; for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1]; o.data = JSON.parse(o.data); return o; });

// The proxy's view of a key record (ARGV[21], store_call_key_view), as
// sendcapd builds it from the record it caches.
function view(hash) {
  const f = w.redis.raw('HGETALL', `sc:vk:${hash}`).split('\n');
  const r = {};
  for (let i = 0; i + 1 < f.length; i += 2) r[f[i]] = f[i + 1];
  const rate = r.rate_limit ?? '';
  return [r.id, r.upstream, r.family, r.daily_cap ?? '', r.scope ?? 'sending', r.monthly_cap ?? '',
    r.per_recipient_cap ?? '', rate, rate === '' ? '' : r.rate_window_ms, r.dedupe_window_ms ?? '600000',
    r.oversight ?? 'auto'].join('|') + '|';
}

// One call.lua run for key k: mode, sends, deny reason, hold ms.
function call(k, mode, sends, reason = '', hold = '0') {
  const hash = w.redis.raw('GET', `sc:id:${k.id}`).trim();
  const gen = w.redis.raw('HGET', `sc:vk:${hash}`, 'gen').trim();
  const ver = w.redis.raw('HGET', 'sc:up:prod', 'ver').trim();
  const out = w.redis.raw('EVAL', script, '1', `sc:vk:${hash}`, gen, ver, mode, String(sends), '',
    `req_${Math.random().toString(36).slice(2)}`, '60', '', '', '', '', '', reason, hold,
    '', '', '', '', '', '', view(hash));
  return out.split('\n').slice(0, -1);
}

test('cap: the first refusal of the day carries key.cap_reached, leased for ARGV[14] ms; later ones ""', () => {
  // A webhook taking every event, written as W's schema has it (lib/events.lua).
  w.redis.raw('SADD', 'sc:webhooks', 'wh_contract');
  w.redis.raw('HSET', 'sc:wh:wh_contract', 'url', 'http://127.0.0.1:9/', 'events', '', 'key', '', 'family', '');
  const k = w.issue(['--daily-cap', '2', '--alert-at', 'none']);
  assert.equal(call(k, 'send', 2)[0], 'ok');
  const r = call(k, 'send', 1, '', '12345');
  assert.equal(r.length, 6, JSON.stringify(r));
  assert.deepEqual(r.slice(0, 4), ['cap', k.id, '2', '2']);
  const ev = events().filter((e) => e.type === 'key.cap_reached' && e.key === k.id);
  assert.equal(ev.length, 1);
  assert.equal(r[5], ev[0].id, 'the reply names the event it emitted');
  assert.deepEqual({ ...ev[0].data, resets_at: undefined },
    { key_id: k.id, name: '', owner: '', window: 'day', used: 2, cap: 2, requested: 1, resets_at: undefined });
  const score = Number(w.redis.raw('ZSCORE', 'sc:whq', `${ev[0].id}|wh_contract`));
  assert.equal(score, Number(ev[0].at) + 12345, 'queued leased to the caller for hold ms');
  assert.match(w.redis.raw('HGET', `sc:evs:${ev[0].id}`, 'wh_contract'), /^pending\|0\|/);

  const again = call(k, 'send', 1, '', '12345');
  assert.equal(again[0], 'cap');
  assert.equal(again.length, 6);
  assert.equal(again[5], '', 'once per window');
  assert.equal(events().filter((e) => e.type === 'key.cap_reached' && e.key === k.id).length, 1);
});

test('mcap: its own window, its own event and trailing id', () => {
  const k = w.issue(['--monthly-cap', '1', '--alert-at', 'none']);
  assert.equal(call(k, 'send', 1)[0], 'ok');
  const r = call(k, 'send', 1, '', '0');
  assert.equal(r[0], 'mcap');
  assert.equal(r.length, 7);
  const ev = events().filter((e) => e.type === 'key.cap_reached' && e.key === k.id);
  assert.equal(ev.length, 1);
  assert.equal(r[6], ev[0].id);
  assert.equal(ev[0].data.window, 'month');
  assert.equal(call(k, 'send', 1)[6], '');
});

test('deny: ARGV[13] names key.denied\'s reason; "" emits nothing', () => {
  const k = w.issue();
  assert.deepEqual(call(k, 'deny', 0, '').slice(0, 2), ['ok', k.id]);
  assert.equal(events().filter((e) => e.key === k.id && e.type === 'key.denied').length, 0);
  call(k, 'deny', 0, 'to_domain');
  const ev = events().filter((e) => e.key === k.id && e.type === 'key.denied');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].data.reason, 'to_domain');
  assert.equal(ev[0].data.count, 1);
});
