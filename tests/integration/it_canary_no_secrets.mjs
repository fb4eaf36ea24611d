// No log line, error body, CLI output (call log queries included), argv or
// Redis value (call records included) ever holds the real key or a vault key.  A canary real key and canary vault keys are
// planted, every path that could leak is exercised (sends, refusals,
// revocation, rotation, upstream failure), then everything is searched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { World, SENDCAP } from '../lib/harness.mjs';
import { WebhookReceiver, until } from '../lib/webhook-receiver.mjs';

const w = new World();
w.realKey = 're_CANARY_REAL_' + 'Zq9'.repeat(10);
const outputs = [];
const adminOut = [];
const keys = [];
// Events, webhook bodies and owner notices (SPEC §6) are searched too.
const rcv = new WebhookReceiver();
before(async () => {
  await w.start({ proxies: 2, proxyArgs: ['--log-level', 'debug', '--upstream-timeout', '1s',
    '--notice-from', 'notices@example.com', '--notice-upstream', 'prod'] });
  await rcv.start();
  const add = w.cli(['webhook', 'add', rcv.url, '--json']);
  rcv.secret = JSON.parse(add.stdout).secret;
  await until(() => w.redis.raw('EXISTS', 'sc:notice').trim() === '1');
});
after(async () => { await rcv.stop(); await w.stop(); });

function cli(args, opts) {
  const r = w.cli(args, opts);
  outputs.push(r.stdout, r.stderr);
  return r;
}

test('exercise every path', async () => {
  const email = { from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' };
  for (const args of [[], ['--scope', 'full', '--daily-cap', '5'], ['--expires-in', '1s']]) {
    // The issue output is the one moment a vault key is shown: keep it out of the search.
    const r = w.cli(['key', 'issue', '--upstream', 'prod', '--json', '--owner', 'owner@example.com', ...args]);
    keys.push(JSON.parse(r.stdout));
  }
  const [a, b, c] = keys;
  const calls = [
    [a.key, 'POST', '/emails', email], [a.key, 'GET', '/emails/x'], [a.key, 'GET', '/api-keys'],
    [b.key, 'GET', '/domains'], [b.key, 'POST', '/broadcasts/x/send', {}], [a.key, 'GET', '/nope'],
    [a.key, 'DELETE', '/emails'], [w.realKey, 'POST', '/emails', email],
  ];
  for (const p of w.proxies) for (const [k, m, path, body] of calls) {
    const res = await w.call(k, m, path, body, { proxy: p });
    outputs.push(res.text, JSON.stringify([...res.headers]));
  }
  w.fake.next({ hang: true });
  outputs.push((await w.call(a.key, 'POST', '/emails', email)).text);
  w.fake.next({ drop: true });
  outputs.push((await w.call(a.key, 'POST', '/emails', email)).text);
  await new Promise((r) => setTimeout(r, 1100));
  outputs.push((await w.call(c.key, 'POST', '/emails', email)).text); // expired
  cli(['key', 'revoke', a.id]);
  outputs.push((await w.call(a.key, 'POST', '/emails', email)).text);
  cli(['key', 'rotate', b.id]);
  cli(['key', 'update', b.id, '--daily-cap', '6']);
  // Every event delivered, and the revocation's notice mailed, before the
  // upstream goes below.
  assert.ok(await until(() => rcv.of('key.revoked').length === 1 && rcv.of('key.rotated').length === 1 &&
    w.fake.received.some((r) => r.json?.from === 'notices@example.com' && /revoked/.test(r.json.subject))));
  cli(['key', 'list', '--all']);
  cli(['key', 'list', '--json', '--all']);
  for (const k of keys) { cli(['key', 'show', k.id]); cli(['key', 'show', k.id, '--json']); }
  cli(['upstream', 'list']);
  cli(['upstream', 'list', '--json']);
  cli(['upstream', 'add', 'second'], { input: `${w.realKey}\n` });
  cli(['upstream', 'add', 'second'], { input: `${w.realKey}\n` }); // exists: error path
  cli(['upstream', 'rotate', 'second'], { input: `${w.realKey}\n` });
  cli(['upstream', 'remove', 'prod']);
  cli(['--redis', 'redis://127.0.0.1:1/0', 'key', 'list']);
  await w.waitForLog(20); // every call above has its record (written off the critical path)
  for (const f of ['table', 'json', 'csv']) cli(['log', 'query', '--format', f]);
  // The admin trail (SPEC §7) of every change above: its own output kept apart too.
  for (const f of ['table', 'json', 'csv']) adminOut.push(cli(['log', 'query', '--admin', '--format', f]).stdout);
  cli(['log', 'verify']);
  assert.ok(outputs.join('').includes('unknown_key'), 'the call log was read');
});

// SPEC §7: a held send's body is sealed in Redis until decided, then
// deleted; its text never appears in clear in Redis (RDB or AOF), a log, an
// event or any output but `approval show`'s, which exists to show it.
const heldMarker = 'HELDCANARY' + Math.random().toString(36).slice(2, 12);
test('held sends: pending, approved and rejected', async () => {
  const g = JSON.parse(w.cli(['key', 'issue', '--upstream', 'second', '--json', '--oversight', 'gated']).stdout);
  keys.push(g);
  const held = [];
  for (let i = 0; i < 3; i++) {
    const r = await w.call(g.key, 'POST', '/emails', { from: 'agent@example.com', to: 'a@example.com',
      subject: `${heldMarker} subject ${i}`, html: `<p>${heldMarker} body ${i}</p>` });
    outputs.push(r.text);
    assert.equal(r.status, 202, r.text);
    held.push(r.json.id);
  }
  const shown = w.cli(['approval', 'show', held[0]]);
  assert.ok(shown.stdout.includes(heldMarker), 'show opens the sealed body (kept out of the search)');
  cli(['approval', 'list']);
  cli(['approval', 'list', '--json']);
  cli(['approval', 'reject', held[1], '--reason', 'no']);
  // approve waits on the fake, which answers on this process's loop.
  await new Promise((res) => {
    const p = spawn(SENDCAP, ['approval', 'approve', held[2]], { env: w.env });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', () => { outputs.push(out); res(); });
  });
  assert.ok(w.fake.received.some((r) => r.body.includes(heldMarker)), 'the approved one reached Resend');
  for (const id of held) outputs.push((await w.call(g.key, 'GET', `/emails/${id}`)).text);
  await w.waitForLog(1, ['--key', g.id]);
  cli(['log', 'query', '--key', g.id, '--format', 'json']);
  cli(['event', 'list', '--key', g.id, '--json']);
  assert.ok(w.redisDump().includes(held[0]), 'the pending held send is in the dump');
});

test('no canary anywhere', async () => {
  const needles = [w.realKey, ...keys.map((k) => k.key), heldMarker];
  const places = {
    'proxy logs': w.proxies.map((p) => p.log).join('\n'),
    'responses and CLI output': outputs.join('\n'),
    'redis (RDB + AOF)': w.redisDump(),
    'redis log': w.redis.log,
    'daemon argv': w.proxies.map((p) => readFileSync(`/proc/${p.proc.pid}/cmdline`, 'latin1')).join('\n'),
    'event data': w.redis.raw('XRANGE', 'sc:events', '-', '+'),
    'webhook bodies': [...rcv.deliveries, ...rcv.rejected].map((d) => d.raw + JSON.stringify(d.headers ?? {})).join('\n'),
    'admin trail': w.redis.raw('XRANGE', 'sc:admin', '-', '+') + adminOut.join('\n'),
    'notice mails': w.fake.received.filter((r) => r.json?.from === 'notices@example.com').map((r) => r.body).join('\n'),
  };
  assert.ok(places['event data'].includes('key.revoked'), 'the events were read');
  assert.ok(places['webhook bodies'].includes('key.rotated'), 'webhook bodies were captured');
  assert.ok(places['notice mails'].includes(keys[0].id), 'notice mails were captured');
  assert.ok(places['redis (RDB + AOF)'].length > 1000, 'the dump was read');
  for (const a of ['key.issue', 'key.revoke', 'key.rotate', 'upstream.rotate', 'webhook.add']) {
    assert.ok(places['admin trail'].includes(a), `the admin trail holds ${a}`);
  }
  // No webhook signing secret in the trail either (the real and vault keys: below).
  assert.ok(!places['admin trail'].includes(rcv.secret.replace(/^whsec_/, '')), 'webhook secret in the admin trail');
  assert.ok(places['proxy logs'].includes('emails.send'), 'debug logs were captured');
  for (const [where, text] of Object.entries(places)) {
    for (const n of needles) {
      assert.ok(!text.includes(n), `${n.slice(0, 12)}… found in ${where}`);
      // Not even the random part on its own.
      assert.ok(!text.includes(n.slice(3)), `tail of ${n.slice(0, 12)}… found in ${where}`);
    }
  }
  // The fake did receive the real key: the search would have found it.
  assert.ok(w.fake.received.some((r) => r.headers.authorization === `Bearer ${w.realKey}`));
});

test('sendcapd is not dumpable (no core dump can carry a key)', () => {
  const status = readFileSync(`/proc/${w.proxy.proc.pid}/status`, 'utf8');
  const limits = readFileSync(`/proc/${w.proxy.proc.pid}/limits`, 'utf8');
  assert.match(limits, /Max core file size\s+0\s+0/);
  assert.ok(status.length > 0);
});
