// Attacks on held sends (SPEC §7) by a prompt-injected agent holding a
// gated vault key: what the approver is shown must be what Resend would
// deliver, printed so the agent's text cannot steer the approver's
// terminal; a gated key has no route that sends unheld; and the forwarder's
// own retry is never mistaken for Resend refusing the send.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, httpCall } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, ms = 20000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) if (fn()) return;
  throw new Error(`timed out waiting for ${what}`);
}
const cliAsync = (args) => w.cliAsync(args);
async function hold(k, body) {
  const r = await w.call(k.key, 'POST', '/emails', body);
  assert.equal(r.status, 202, r.text);
  return r.json.id;
}
const status = (hid) => w.redis.raw('HGET', `sc:held:${hid}`, 'status').trim();

test('approval show: control characters of the agent\'s text reach the terminal neutralised', async () => {
  const k = w.issue(['--oversight', 'gated']);
  const ESC = '\u001b';
  // Conceal the real text, move the cursor over lines already printed,
  // write the clipboard (OSC 52), reverse the display (bidi override), a
  // C1 CSI, a carriage return, and a subject that forges a "to" line.
  const hid = await hold(k, {
    from: 'a@example.com', to: 'victim@example.org',
    subject: `Invoice\nto           boss@example.com${ESC}[2K`,
    text: `Hello${ESC}[8mWIRE MONEY NOW${ESC}[0m\r${ESC}[1A${ESC}]52;c;ZXZpbA==\u0007 \u202edlrow\u009b31m`,
  });
  const r = w.cli(['approval', 'show', hid]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u,
    'no control character but newline and tab reaches the terminal');
  assert.match(r.stdout, /WIRE MONEY NOW/, 'the concealed text is visible');
  assert.match(r.stdout, /\\x1b\[8m/, 'an escape is shown as \\x1b');
  assert.match(r.stdout, /\\u202e/, 'a bidi override is shown as \\u202e');
  assert.match(r.stdout, /subject\s+Invoice\\x0ato/, 'a line break in the subject is shown, not made');
  assert.doesNotMatch(r.stdout, /^to\s+boss@example\.com/m, 'the subject forges no "to" line');
  assert.equal(w.cli(['approval', 'reject', hid, '--reason', 'x']).code, 0);
});

test('approval show: the html is shown too when the send also has a text part', async () => {
  const k = w.issue(['--oversight', 'gated']);
  const hid = await hold(k, {
    from: 'a@example.com', to: 'victim@example.org', subject: 'Quarterly numbers',
    text: 'Numbers attached, nothing to do.',
    html: '<p>Your account is locked: <a href="https://evil.example">SIGN IN HERE</a></p>',
    headers: { 'X-Entity-Ref-ID': 'REF-HDR-1' },
    scheduled_at: '2099-01-01T00:00:00Z',
  });
  const r = w.cli(['approval', 'show', hid]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Numbers attached/);
  assert.match(r.stdout, /SIGN IN HERE/, 'what most mail clients render is shown');
  assert.match(r.stdout, /REF-HDR-1/, 'custom headers are shown');
  assert.match(r.stdout, /2099-01-01T00:00:00Z/, 'a scheduled time is shown');
  const j = JSON.parse(w.cli(['approval', 'show', hid, '--json']).stdout);
  assert.match(j.messages[0].html_as_text, /SIGN IN HERE/);
  assert.equal(w.cli(['approval', 'reject', hid, '--reason', 'x']).code, 0);
});

test('a gated full-scope key cannot send unheld through a broadcast, an automation or events.send', async () => {
  for (const mode of ['gated', 'gated-new-recipients']) {
    const k = w.issue(['--oversight', mode, '--scope', 'full']);
    w.fake.reset();
    for (const [m, p] of [['POST', '/broadcasts/b_1/send'], ['POST', '/events/send'], ['POST', '/automations']]) {
      const r = await w.call(k.key, m, p, { event: 'x', email: 'victim@example.org', name: 'n', steps: [] });
      errorShape(assert, r, 401, 'restricted_api_key');
      assert.match(r.json.message, /held for a person's approval/);
    }
    assert.equal(w.fake.received.length, 0, `${mode}: nothing reached Resend`);
  }
  // An auto key of the same scope still may (no cap, no lists).
  const auto = w.issue(['--scope', 'full']);
  w.fake.reset();
  await w.call(auto.key, 'POST', '/broadcasts/b_1/send', {});
  assert.equal(w.fake.received.length, 1);
});

test('Resend answering 409 to a held forward (an earlier attempt still in flight) is retried, never failed and refunded', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const hid = await hold(k, { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'x' });
  const ck = w.redis.raw('HGET', `sc:held:${hid}`, 'ck').trim();
  w.fake.reset();
  w.fake.next({ status: 409, body: { statusCode: 409, name: 'concurrent_idempotent_requests', message: 'Same idempotency key used while original request is still in progress.' } });
  const ok = await cliAsync(['approval', 'approve', hid]);
  assert.equal(ok.code, 0, ok.stderr);
  await until(() => status(hid) === 'sent', 'the send to be recorded sent');
  const posts = w.fake.received.filter((x) => x.method === 'POST');
  assert.equal(posts.length, 2, 'the 409, then the retry');
  for (const p of posts) assert.equal(p.headers['idempotency-key'], `sendcap-held-${hid}`);
  assert.equal(w.redis.raw('GET', ck).trim(), '1', 'the reservation is kept');
});

// Resend's rate limit is per team (2 requests/s by default): an approved
// send it answers 429 has not gone out, and a person approved it, so it
// waits Retry-After and goes, rather than failing with its sends given back.
test('Resend answering 429 to an approved held send: it waits its Retry-After and goes', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const hid = await hold(k, { from: 'a@example.com', to: 'b@example.com', subject: 'rl', text: 'x' });
  const ck = w.redis.raw('HGET', `sc:held:${hid}`, 'ck').trim();
  w.fake.reset();
  const limited = { status: 429, headers: { 'retry-after': '1' },
    body: { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests.' } };
  for (let i = 0; i < 6; i++) w.fake.next(limited); // more than the attempts a send has
  const ok = await cliAsync(['approval', 'approve', hid]);
  assert.equal(ok.code, 0, ok.stderr);
  await until(() => status(hid) === 'sent', 'the send to go once Resend lets it', 30000);
  const posts = w.fake.received.filter((x) => x.method === 'POST');
  assert.equal(posts.length, 7, 'six 429s, then the send');
  for (const p of posts) assert.equal(p.headers['idempotency-key'], `sendcap-held-${hid}`);
  assert.equal(w.redis.raw('GET', ck).trim(), '1', 'the reservation is kept');
});

test('--actor: a C1 control or a bidi override is refused like a C0 one', () => {
  const k = w.issue();
  for (const bad of ['ops\u009b31m', 'ops\u202eevil', 'ops\nroot', 'ops\u001b[2K']) {
    const r = w.cli(['--actor', bad, 'key', 'update', k.id, '--daily-cap', '3']);
    assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /control character/);
  }
  assert.equal(w.cli(['--actor', 'Zoë (ops)', 'key', 'update', k.id, '--daily-cap', '3']).code, 0, 'UTF-8 text is fine');
});

// Revocation stops an agent mid-run (SPEC §3): a held send of a key revoked
// since must never go out, whether the revocation comes before the
// approval or between the approval and the forward.
test('a revoked key\'s held send is never forwarded: approve refuses it, the forwarder drops it', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const counter = (hid) => Number(w.redis.raw('GET', w.redis.raw('HGET', `sc:held:${hid}`, 'ck').trim()).trim() || '0');
  w.fake.reset();
  const a = await hold(k, { from: 'agent@example.com', to: ['a@example.com', 'b@example.com'], subject: 'r1', text: 'x' });
  assert.equal(counter(a), 2);
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  const r = await cliAsync(['approval', 'approve', a]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /revoked/);
  assert.equal(status(a), 'rejected');
  assert.equal(counter(a), 0, 'its sends given back');
  assert.equal(w.redis.raw('HGET', `sc:held:${a}`, 'sealed').trim(), '', 'its body deleted');

  // Approved while no sendcapd runs, revoked before one forwards it.
  const k2 = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const b = await hold(k2, { from: 'agent@example.com', to: 'a@example.com', subject: 'r2', text: 'x' });
  await w.proxy.stop();
  w.proxies.length = 0;
  const ok = await cliAsync(['approval', 'approve', b]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(status(b), 'approved');
  assert.equal(w.cli(['key', 'revoke', k2.id]).code, 0);
  await w.addProxy();
  await until(() => status(b) === 'rejected', 'the forwarder to drop it');
  await sleep(500);
  assert.equal(w.fake.received.length, 0, 'nothing reached Resend');
  assert.equal(counter(b), 0);
  const ev = w.cli(['event', 'list', '--key', k2.id, '--type', 'send.rejected', '--json']).stdout;
  assert.match(ev, /"reason":"revoked"/);
});

// A gated key with no cap cannot fill Redis with sealed bodies (and so stop
// every key's sends, Redis being noeviction): at most 1,000 of a family's
// held sends wait (SC_HELD_FAMILY_MAX); the next is refused without
// reserving anything, and deciding one makes room at once.
test('held sends waiting per key family are bounded; a decision frees room', async () => {
  const k = w.issue(['--oversight', 'gated', '--dedupe-window', '0']);
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const send = (i) => httpCall(w.proxy.url, { method: 'POST', path: '/emails', agent,
    headers: { authorization: `Bearer ${k.key}` },
    body: { from: 'agent@example.com', to: 'a@example.com', subject: `flood ${i}`, text: 'x' } });
  const first = await Promise.all(Array.from({ length: 1000 }, (_, i) => send(i)));
  assert.deepEqual([...new Set(first.map((r) => r.status))], [202]);
  const over = await send(1000);
  agent.destroy();
  assert.equal(over.status, 429, over.text);
  assert.deepEqual(Object.keys(over.json).sort(), ['message', 'name', 'statusCode']);
  assert.equal(over.json.name, 'rate_limit_exceeded');
  assert.match(over.json.message, /1000 sends .* waiting for a person's approval/);
  assert.equal(over.headers['retry-after'], '60');
  const day = w.redis.raw('KEYS', `sc:cnt:${k.id}:*`).trim();
  assert.equal(w.redis.raw('GET', day).trim(), '1000', 'the refused send reserved nothing');
  const rec = (await w.waitForLog(1, ['--key', k.id, '--decision', 'denied']))[0];
  assert.equal(rec.reason, 'held_queue_full');

  // Reject one: the next send is held again.
  assert.equal(w.cli(['approval', 'reject', first[0].json.id, '--reason', 'flood']).code, 0);
  assert.equal((await w.call(k.key, 'POST', '/emails',
    { from: 'agent@example.com', to: 'a@example.com', subject: 'after', text: 'x' })).status, 202);
  assert.equal(w.redis.raw('HGET', `sc:held:fam:${k.id}`, 'n').trim(), '1000');
});
