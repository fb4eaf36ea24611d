// The upstream's host name hanging in DNS must not stall sendcapd either
// (the webhook case is it_attack_webhook_dns).  A send to an upstream whose
// lookup hangs ends at --upstream-timeout with 504, and while that lookup
// still hangs, other calls are answered: libcurl must leave its resolver
// thread behind (CURLOPT_QUICK_EXIT) rather than join it on the loop.
// tests/lib/dns_gate.c (LD_PRELOAD) hangs lookups of *.gate.test until the
// test releases them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { World, httpCall } from '../lib/harness.mjs';

const gate = process.env.SC_DNS_GATE;
const release = path.join(mkdtempSync(path.join(os.tmpdir(), 'sc-dns-gate-')), 'release');
const w = new World();
before(async () => {
  assert.ok(gate, 'SC_DNS_GATE names the shim (tests/CMakeLists.txt sets it)');
  await w.start({ proxies: 0 });
  await w.addProxy(['--upstream-url', 'https://api.gate.test', '--upstream-timeout', '1s'], {
    LD_PRELOAD: gate, SC_DNS_GATE_RELEASE: release, ASAN_OPTIONS: 'verify_asan_link_order=0',
  });
});
after(async () => { writeFileSync(release, ''); await w.stop(); });

const send = (k) => httpCall(w.proxy.url, {
  method: 'POST', path: '/emails', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' }),
});

test('a hanging upstream lookup times the call out without stalling the loop', async () => {
  const k = w.issue();
  // Before the fix the loop joined the hung resolver thread: no answer, ever.
  const first = await Promise.race([send(k), new Promise((r) => setTimeout(() => r(null), 10000))]);
  assert.ok(existsSync(`${release}.entered`), 'the lookup hung in the shim');
  assert.ok(first, 'the send is answered at --upstream-timeout, not when the lookup ends');
  assert.equal(first.status, 504, JSON.stringify(first));
  assert.equal(first.json.name, 'application_error');
  // The lookup is still hanging (the gate is closed); the loop must not be.
  const t = await Promise.race([
    httpCall(w.proxy.url, { method: 'GET', path: '/emails/x', headers: { authorization: 'Bearer vk_unknown' } }),
    new Promise((r) => setTimeout(() => r(null), 5000)),
  ]);
  assert.ok(t, 'a call made while the lookup hangs is answered');
  assert.equal(t.status, 403);
});
