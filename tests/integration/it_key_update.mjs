// `sendcap key update` (SPEC §5): a key's policy changes in place and the very
// next call on every instance uses it; the counters, the owned emails and the
// key value are kept.  Two sendcapd instances that have both cached the key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });

// Every send differs (its subject), so no dedupe window can refuse a repeat.
let n = 0;
const mail = (over = {}) => ({ from: 'a@example.com', to: 'b@example.com', subject: `s${n++}`, text: 't', ...over });
const send = (k, p, over) => w.call(k.key, 'POST', '/emails', mail(over), { proxy: w.proxies[p] });
const update = (k, args) => w.cli(['key', 'update', k.id, ...args]);

test('daily cap raised and lowered: next call on both instances; the counter is kept', async () => {
  const k = w.issue(['--daily-cap', '2', '--name', 'bot', '--agent-run-id', 'run-u']);
  const first = await send(k, 0);
  assert.equal(first.status, 200);
  assert.equal((await send(k, 1)).status, 200);
  errorShape(assert, await send(k, 0), 429, 'daily_quota_exceeded');
  errorShape(assert, await send(k, 1), 429, 'daily_quota_exceeded');

  const up = update(k, ['--daily-cap', '4', '--json']);
  assert.equal(up.code, 0, up.stderr);
  const j = JSON.parse(up.stdout);
  assert.deepEqual(j.changed, { daily_cap: { old: 2, new: 4 } }, 'only what changed is reported');
  assert.equal(j.name, 'bot', 'fields not named are kept');
  assert.equal(j.agent_run_id, 'run-u');
  // 2 used of 4: one more on each instance, then the cap again.
  assert.equal((await send(k, 1)).status, 200);
  assert.equal((await send(k, 0)).status, 200);
  errorShape(assert, await send(k, 1), 429, 'daily_quota_exceeded');

  // Lowered below today's use (4): refused at once everywhere, nothing forwarded.
  const down = update(k, ['--daily-cap', '3']);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /daily_cap +4 → 3/);
  const before = w.fake.received.length;
  errorShape(assert, await send(k, 0), 429, 'daily_quota_exceeded');
  errorShape(assert, await send(k, 1), 429, 'daily_quota_exceeded');
  assert.equal(w.fake.received.length, before, 'nothing reached Resend');

  // No cap: through again, with the same vault key, which still owns its emails.
  assert.equal(update(k, ['--daily-cap', 'none']).code, 0);
  assert.equal((await send(k, 0)).status, 200);
  assert.equal((await send(k, 1)).status, 200);
  assert.equal((await w.call(k.key, 'GET', `/emails/${first.json.id}`, undefined, { proxy: w.proxies[1] })).status, 200);
  assert.equal(JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout).used_today, 6, 'the counter was never reset');
});

test('to-domain and from-domain lists replaced and cleared: next call on both instances', async () => {
  const k = w.issue(['--to-domain', 'example.com', '--to-domain', 'example.net', '--from-domain', 'example.com']);
  assert.equal((await send(k, 0)).status, 200);
  assert.equal((await send(k, 1, { to: 'c@example.net' })).status, 200);

  const r = update(k, ['--to-domain', 'other.org', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).to_domains, ['other.org'], 'a list flag replaces the whole list');
  const before = w.fake.received.length;
  errorShape(assert, await send(k, 0), 403, 'invalid_to_address');
  errorShape(assert, await send(k, 1, { to: 'c@example.net' }), 403, 'invalid_to_address');
  assert.equal(w.fake.received.length, before);
  assert.equal((await send(k, 0, { to: 'x@other.org' })).status, 200);
  assert.equal((await send(k, 1, { to: 'x@other.org' })).status, 200);

  assert.equal(update(k, ['--from-domain', 'other.org']).code, 0);
  errorShape(assert, await send(k, 1, { to: 'x@other.org' }), 403, 'invalid_from_address');
  errorShape(assert, await send(k, 0, { to: 'x@other.org' }), 403, 'invalid_from_address');
  assert.equal((await send(k, 0, { from: 'a@other.org', to: 'x@other.org' })).status, 200);

  const c = update(k, ['--clear-from-domains', '--clear-to-domains']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /from_domains +other\.org → any/);
  assert.equal((await send(k, 1, { to: 'anyone@anywhere.io' })).status, 200);
  assert.equal((await send(k, 0, { to: 'anyone@anywhere.io' })).status, 200);
});

test('the record keeps its identity; the update is one atomic step that bumps gen', () => {
  const k = w.issue(['--daily-cap', '5', '--rate', '10/m', '--monthly-cap', '50']);
  const hash = w.redis.raw('GET', `sc:id:${k.id}`).trim();
  const rec = () => {
    const a = w.redis.raw('HGETALL', `sc:vk:${hash}`).trim().split('\n');
    const o = {};
    for (let i = 0; i + 1 < a.length; i += 2) o[a[i]] = a[i + 1];
    return o;
  };
  const was = rec();
  const r = update(k, ['--rate', 'none', '--monthly-cap', 'none', '--per-recipient-cap', '2', '--dedupe-window', '0',
    '--alert-at', '90,50', '--scope', 'full', '--owner', 'o@example.com', '--expires-in', '1d']);
  assert.equal(r.code, 0, r.stderr);
  const now = rec();
  for (const f of ['id', 'hash', 'family', 'upstream', 'created_at', 'daily_cap']) assert.equal(now[f], was[f], f);
  // A new gen, above the old one (and at least Redis's clock in ms: a change
  // lost in a failover and the next one never share it; it_attack_gen_reuse).
  assert.ok(Number(now.gen) > Number(was.gen), `gen ${was.gen} -> ${now.gen}`);
  assert.equal(now.rate_limit, '');
  assert.equal(now.rate_window_ms, undefined, 'no window without a rate (schema)');
  assert.equal(now.monthly_cap, '');
  assert.equal(now.per_recipient_cap, '2');
  assert.equal(now.dedupe_window_ms, '0');
  assert.equal(now.alert_at, '50,90');
  assert.equal(now.scope, 'full');
  assert.ok(Number(now.expires_at) > Number(now.created_at));
});

test('refusals: revoked 1, unknown 3, bad or missing values 2; nothing written', () => {
  const k = w.issue();
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  const gen = w.redis.raw('HGET', `sc:vk:${w.redis.raw('GET', `sc:id:${k.id}`).trim()}`, 'gen');
  const rv = update(k, ['--daily-cap', '1']);
  assert.equal(rv.code, 1);
  assert.match(rv.stderr, /^sendcap: key key_\w+ is revoked; a revoked key cannot be changed\n$/);
  assert.equal(w.redis.raw('HGET', `sc:vk:${w.redis.raw('GET', `sc:id:${k.id}`).trim()}`, 'gen'), gen);
  assert.equal(w.cli(['key', 'update', 'key_nope', '--daily-cap', '1']).code, 3);
  const live = w.issue();
  for (const args of [[], ['--daily-cap', 'x'], ['--rate', '5/d'], ['--upstream', 'prod'], ['--to-domain', 'a.com', '--clear-to-domains'],
    ['--daily-cap', '1', '--daily-cap', '2'], ['--expires-at', '2001-01-01T00:00:00Z']]) {
    const r = update(live, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sendcap: [^\n]*\n$/, 'one line');
  }
});

test('each SPEC §5 control raised and lowered takes effect on the next call on both instances', async () => {
  const k = w.issue();
  // Both instances have the key cached before any update.
  assert.equal((await send(k, 0)).status, 200);
  assert.equal((await send(k, 1)).status, 200);
  const ok = (args) => assert.equal(update(k, args).code, 0, args.join(' '));

  // Monthly cap: the month so far counts (2 sent); lowered to it, refused; raised, sent.
  ok(['--monthly-cap', '2']);
  errorShape(assert, await send(k, 1), 429, 'monthly_quota_exceeded');
  errorShape(assert, await send(k, 0), 429, 'monthly_quota_exceeded');
  ok(['--monthly-cap', '3']);
  assert.equal((await send(k, 1)).status, 200);
  errorShape(assert, await send(k, 0), 429, 'monthly_quota_exceeded');
  ok(['--monthly-cap', 'none']);
  assert.equal((await send(k, 0)).status, 200);

  // Per-recipient cap, on a fresh address.
  ok(['--per-recipient-cap', '1']);
  assert.equal((await send(k, 0, { to: 'fresh@example.com' })).status, 200);
  errorShape(assert, await send(k, 1, { to: 'fresh@example.com' }), 429, 'recipient_quota_exceeded');
  ok(['--per-recipient-cap', '2']);
  assert.equal((await send(k, 1, { to: 'fresh@example.com' })).status, 200);
  ok(['--per-recipient-cap', 'none']);
  assert.equal((await send(k, 0, { to: 'fresh@example.com' })).status, 200);

  // Rate: one whoami an hour; then none.
  ok(['--rate', '1/h']);
  assert.equal((await w.call(k.key, 'GET', '/sendcap/v1/whoami', undefined, { proxy: w.proxies[0] })).status, 200);
  errorShape(assert, await w.call(k.key, 'GET', '/sendcap/v1/whoami', undefined, { proxy: w.proxies[1] }),
    429, 'rate_limit_exceeded');
  ok(['--rate', 'none']);
  assert.equal((await w.call(k.key, 'GET', '/sendcap/v1/whoami', undefined, { proxy: w.proxies[1] })).status, 200);

  // Dedupe window: off lets the same send through twice; on refuses it on the other instance.
  const same = { subject: 'the same one', to: 'dd@example.com' };
  ok(['--dedupe-window', '0']);
  assert.equal((await w.call(k.key, 'POST', '/emails', mail(same), { proxy: w.proxies[0] })).status, 200);
  assert.equal((await w.call(k.key, 'POST', '/emails', { ...mail(same), subject: 'the same one' }, { proxy: w.proxies[1] })).status, 200);
  ok(['--dedupe-window', '1m']);
  const fixed = { from: 'a@example.com', to: 'dd@example.com', subject: 'once only', text: 't' };
  assert.equal((await w.call(k.key, 'POST', '/emails', fixed, { proxy: w.proxies[1] })).status, 200);
  errorShape(assert, await w.call(k.key, 'POST', '/emails', fixed, { proxy: w.proxies[0] }), 409, 'duplicate_send');
});
