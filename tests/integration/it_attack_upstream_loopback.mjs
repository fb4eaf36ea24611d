// A plain-http upstream is allowed only on loopback, and "loopback" is
// decided on the address, not on how the host name starts (issue #11):
// `http://127.0.0.1.anything.example` is a DNS name that any resolver may
// send anywhere, so it would carry the real key in clear to a stranger.
// Only a numeric loopback literal (127.0.0.0/8, ::1) or `localhost` is
// accepted; `localhost` is resolved once at start-up, every address it
// resolves to must be loopback, and libcurl is pinned to those addresses so
// a later change of the name's answer cannot move the key elsewhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { World, SENDCAPD, varied } from '../lib/harness.mjs';
import { FakeResend } from '../lib/fake-resend.mjs';

const w = new World();
let key;
before(async () => {
  await w.start({ proxies: 0 });
  key = w.issue().key;
});
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

// sendcapd must exit at start-up; a daemon that starts instead is killed
// after 5 s (status null), which fails the test.
function startRefused(url) {
  const r = spawnSync(SENDCAPD, ['--listen', '127.0.0.1:0', '--metrics-listen', 'off', '--upstream-url', url],
    { env: w.env, encoding: 'utf8', timeout: 5000, killSignal: 'SIGKILL' });
  return r;
}

for (const url of [
  'http://127.0.0.1.anything.example',
  'http://127.0.0.1.nip.io:8080',
  'http://127.evil.example',
  'http://localhost.evil.example',
  'http://[::ffff:10.0.0.1]',
  'http://10.0.0.1',
]) {
  test(`plain http to ${url} is refused at start-up (exit 1, one line)`, () => {
    const r = startRefused(url);
    assert.equal(r.status, 1, `sendcapd started with ${url}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /loopback/);
  });
}

test('a numeric loopback literal other than 127.0.0.1 works', async () => {
  const fake = await new FakeResend().start('127.0.0.2');
  fake.validKeys.add(w.realKey);
  try {
    const p = await w.addProxy(['--upstream-url', fake.url]);
    const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.received.length, 1);
  } finally {
    await fake.stop();
  }
});

// The tests below give sendcapd its own /etc/hosts through a user and mount
// namespace (unshare -rm, then a bind mount), so the name `localhost` can
// be made to resolve elsewhere without touching the machine's file.
const canUnshare = spawnSync('unshare', ['-rm', 'true']).status === 0;
// Not a skip: CI runs as root, where this works; if it does not, say so.
const why = 'unshare -rm is not permitted here: cannot give sendcapd its own /etc/hosts';

function startInNamespace(hostsFile, url) {
  const proc = spawn('unshare', ['-rm', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"', 'sh',
    hostsFile, SENDCAPD, '--listen', '127.0.0.1:0', '--metrics-listen', 'off', '--upstream-url', url],
  { env: w.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { log: '', proc };
  proc.stdout.on('data', (d) => { out.log += d; });
  proc.stderr.on('data', (d) => { out.log += d; });
  out.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  return out;
}

test('localhost that resolves to a non-loopback address is refused at start-up', async () => {
  assert.ok(canUnshare, why);
  const hosts = path.join(w.dir, 'hosts-evil');
  writeFileSync(hosts, '10.9.9.9 localhost\n');
  const d = startInNamespace(hosts, 'http://localhost:8026');
  const code = await Promise.race([d.exited, new Promise((r) => setTimeout(() => r('running'), 5000))]);
  if (code === 'running') d.proc.kill('SIGKILL');
  assert.equal(code, 1, `sendcapd did not refuse: ${d.log}`);
  assert.match(d.log, /loopback/);
});

test('localhost is pinned to the addresses it resolved to at start-up', async () => {
  assert.ok(canUnshare, why);
  const fake = await new FakeResend().start('127.0.0.2');
  fake.validKeys.add(w.realKey);
  const port = new URL(fake.url).port;
  const hosts = path.join(w.dir, 'hosts-pin');
  writeFileSync(hosts, '127.0.0.2 localhost\n');
  const d = startInNamespace(hosts, `http://localhost:${port}`);
  try {
    let m;
    for (let i = 0; i < 500 && !(m = d.log.match(/listening on (\S+) \(http\)/)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(m, `sendcapd did not start: ${d.log}`);
    const p = { url: `http://${m[1]}` };
    let res;
    for (let i = 0; i < 100; i++) { // the Redis connection comes up just after listening
      res = await w.call(key, 'POST', '/emails', email, { proxy: p });
      if (res.status !== 503) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(res.status, 200, `the call went to the address localhost resolved to: ${res.text}`);
    assert.equal(fake.received.length, 1);
    // The name now answers something else (where nothing listens): the
    // calls still go to the address checked at start-up.
    writeFileSync(hosts, '127.0.0.3 localhost\n');
    res = await w.call(key, 'POST', '/emails', email, { proxy: p });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.received.length, 2);
  } finally {
    d.proc.kill('SIGKILL');
    await d.exited;
    await fake.stop();
  }
});
