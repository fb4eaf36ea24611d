// A webhook whose host name never resolves (its DNS is down or black-holed)
// must not stall sendcapd (SPEC §6: delivery never blocks sends).  libcurl
// resolves in a thread, but when an attempt times out during the lookup it
// joins that thread on the caller's loop unless told to leave it
// (CURLOPT_QUICK_EXIT): every send would wait for getaddrinfo.  Here a
// preloaded getaddrinfo (tests/lib/dns_gate.c) hangs for *.gate.test until
// the test releases it; the attempt must time out, be recorded, and calls
// must be answered while the lookup still hangs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { World, httpCall } from '../lib/harness.mjs';
import { until, deliveryState } from '../lib/webhook-receiver.mjs';

const gate = process.env.SC_DNS_GATE;
const release = path.join(mkdtempSync(path.join(os.tmpdir(), 'sc-dns-gate-')), 'release');
const w = new World();
before(async () => {
  await w.start({ proxies: 0 });
  await w.addProxy(['--webhook-timeout', '1s', '--webhook-retry-base', '1h'], {
    LD_PRELOAD: gate, SC_DNS_GATE_RELEASE: release,
    // A sanitized build: the shim comes before the ASan runtime.
    ASAN_OPTIONS: 'verify_asan_link_order=0',
  });
});
after(async () => { writeFileSync(release, ''); await w.stop(); });

test('a hanging name lookup times out the attempt without stalling the loop', async () => {
  assert.ok(gate, 'SC_DNS_GATE names the shim (tests/CMakeLists.txt sets it)');
  const { id } = JSON.parse(w.cli(['webhook', 'add', 'https://hook.gate.test/in', '--json']).stdout);
  const k = w.issue();
  const eid = w.redis.raw('XREVRANGE', 'sc:events', '+', '-', 'COUNT', '1').split('\n')[0].trim();
  assert.ok(await until(() => existsSync(`${release}.entered`), 15000), 'the lookup hangs in the shim');
  // The attempt ends at its timeout and is recorded, though getaddrinfo
  // has not returned (the gate is still closed).
  assert.ok(await until(() => deliveryState(w, eid, id)?.attempts === 1, 15000),
    `the attempt was never recorded: ${JSON.stringify(deliveryState(w, eid, id))}\n${w.proxy.log}`);
  const st = deliveryState(w, eid, id);
  assert.equal(st.state, 'pending');
  assert.equal(st.lastStatus, '', 'no answer: it never connected');
  // And a call is answered meanwhile.
  const res = await httpCall(w.proxy.url, {
    method: 'POST', path: '/emails', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' }),
  });
  assert.equal(res.status, 200, JSON.stringify(res));
  assert.ok(w.fake.received.some((r) => r.url === '/emails'), 'the send reached the upstream');
});
