// SIGHUP reads the settings again (SENDCAP_CONFIG file) and applies what can
// change at run time to calls that start from then on, without dropping the
// call in flight, logging every change; a bad file changes nothing.  The log
// format switches to JSON lines on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
let conf;
before(async () => {
  await w.start({ proxies: 0 });
  conf = path.join(w.dir, 'sendcap.env');
  writeFileSync(conf, '# sendcap settings\nSENDCAP_MAX_BODY=2000\nSENDCAP_LOG_LEVEL=info\n');
  await w.addProxy([], { SENDCAP_CONFIG: conf });
});
after(async () => { await w.stop(); });

const big = varied({ from: 'a@example.com', to: 'b@example.com', subject: 's', html: 'x'.repeat(3000) });
const until = async (fn) => {
  for (let i = 0; i < 200; i++) { if (fn()) return; await new Promise((r) => setTimeout(r, 20)); }
  assert.fail('not in time');
};

test('the file sets --max-body; SIGHUP raises it without dropping the call in flight', async () => {
  const k = w.issue();
  const r1 = await w.call(k.key, 'POST', '/emails', big);
  assert.equal(r1.status, 413, r1.text);

  w.fake.next({ hang: true });
  const pending = w.call(k.key, 'POST', '/emails', { ...big, html: 'small' });
  await until(() => w.fake.hanging.length === 1);
  writeFileSync(conf, 'SENDCAP_MAX_BODY=100000\nSENDCAP_LOG_FORMAT=json\nSENDCAP_UPSTREAM_TIMEOUT=20s\n');
  w.proxy.proc.kill('SIGHUP');
  await until(() => w.proxy.log.includes('max-body 2000 -> 100000'));
  assert.match(w.proxy.log, /upstream-timeout 30000 ms -> 20000 ms/);
  const held = w.fake.hanging.shift();
  held.writeHead(200, { 'content-type': 'application/json' });
  held.end('{"id":"held-through-reload"}');
  const r2 = await pending;
  assert.equal(r2.status, 200);
  assert.equal(r2.json.id, 'held-through-reload');

  const r3 = await w.call(k.key, 'POST', '/emails', big);
  assert.equal(r3.status, 200, r3.text);
});

test('after the switch, diagnostics are JSON lines', async () => {
  const mark = w.proxy.log.length;
  w.proxy.proc.kill('SIGHUP');
  await until(() => w.proxy.log.slice(mark).includes('nothing to change'));
  const lines = w.proxy.log.slice(mark).trim().split('\n');
  for (const l of lines) {
    const o = JSON.parse(l);
    assert.deepEqual(Object.keys(o), ['time', 'level', 'msg']);
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
});

test('a bad reload keeps the running settings; a restart-only change is named', async () => {
  const k = w.issue();
  writeFileSync(conf, 'SENDCAP_MAX_BODY=lots\n');
  let mark = w.proxy.log.length;
  w.proxy.proc.kill('SIGHUP');
  await until(() => w.proxy.log.slice(mark).includes('reload refused'));
  assert.equal((await w.call(k.key, 'POST', '/emails', big)).status, 200, 'max-body still 100000');

  writeFileSync(conf, 'SENDCAP_MAX_BODY=100000\nSENDCAP_LOG_FORMAT=json\nSENDCAP_UPSTREAM_TIMEOUT=20s\nSENDCAP_PATH_PREFIX=/resend/v1\n');
  mark = w.proxy.log.length;
  w.proxy.proc.kill('SIGHUP');
  await until(() => w.proxy.log.slice(mark).includes('takes effect on restart'));
  assert.match(w.proxy.log.slice(mark), /path-prefix changed to '\/resend\/v1'; it takes effect on restart/);
  assert.equal((await w.call(k.key, 'POST', '/emails', big)).status, 200, 'the prefix did not change live');
  assert.equal(w.proxy.proc.exitCode, null);
});
