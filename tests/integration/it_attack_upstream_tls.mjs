// The real key only ever goes to a verified Resend (issue #14).  The fake
// Resend serves HTTPS with certificates made at test time (tests/lib/test-ca.mjs):
// - with --upstream-ca naming the test CA, a send works;
// - a certificate from another CA, for another host name, or expired ends the
//   call in 502 application_error before any request is sent: the fake's TLS
//   handshake fails and it records no request, so the real key never left;
// - TLS below 1.2 is refused even where the system's OpenSSL policy would
//   allow it (sendcapd is given a permissive OPENSSL_CONF);
// - --upstream-proxy sends the call through a CONNECT proxy that sees only
//   ciphertext, its credentials never reach a log, and the *_proxy
//   environment variables (no_proxy included) are never used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { World, errorShape, SENDCAPD, varied } from '../lib/harness.mjs';
import { FakeResend } from '../lib/fake-resend.mjs';
import { ConnectProxy } from '../lib/connect-proxy.mjs';
import { makeTestCerts } from '../lib/test-ca.mjs';

const w = new World();
let key, certs;
const started = [];
before(async () => {
  await w.start({ proxies: 0 });
  key = w.issue().key;
  mkdirSync(path.join(w.dir, 'certs'));
  certs = makeTestCerts(path.join(w.dir, 'certs'));
});
after(async () => {
  for (const s of started) await s.stop();
  await w.stop();
});

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

async function httpsFake(certFile, extra = {}) {
  const fake = new FakeResend({ tls: { key: readFileSync(certs.key), cert: readFileSync(certFile), ...extra } });
  await fake.start();
  fake.validKeys.add(w.realKey);
  started.push(fake);
  return fake;
}

// A sendcapd whose upstream is url (the harness passes w.fake.url).
async function proxyTo(url, args = [], env = {}) {
  const saved = w.fake.url;
  w.fake.url = url;
  try {
    return await w.addProxy(args, env);
  } finally {
    w.fake.url = saved;
  }
}

function noSecret(p) {
  assert.ok(!p.log.includes(w.realKey), 'the real key is not in the log');
  assert.ok(!p.log.includes(key), 'the vault key is not in the log');
}

test('with --upstream-ca naming the test CA, a send over TLS works', async () => {
  const fake = await httpsFake(certs.good);
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca]);
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.received.length, 1);
  assert.equal(fake.received[0].headers.authorization, `Bearer ${w.realKey}`);
  noSecret(p);
});

test('without --upstream-ca the system store is used: the test CA is not trusted', async () => {
  const fake = await httpsFake(certs.good);
  const p = await proxyTo(fake.url);
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  errorShape(assert, res, 502, 'application_error');
  assert.equal(fake.received.length, 0, 'nothing reached the fake');
  assert.ok(fake.tlsErrors.length >= 1, 'the handshake reached the fake and failed');
});

for (const [what, file] of [['from another CA', 'otherCaSigned'], ['for another host name', 'otherHost'],
  ['expired', 'expired']]) {
  test(`a certificate ${what}: 502, nothing sent, the real key never leaves`, async () => {
    const fake = await httpsFake(certs[file]);
    const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca]);
    const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
    errorShape(assert, res, 502, 'application_error');
    assert.match(res.json.message, /nothing was sent/);
    assert.equal(fake.received.length, 0, 'the fake recorded no request');
    // The call did reach the fake (a TCP connection and a handshake), so the
    // 502 is the certificate's doing.  A host-name mismatch is found by
    // libcurl just after the handshake, so the fake sees no TLS error then.
    assert.ok(fake.connections >= 1, 'sendcapd connected to the fake');
    noSecret(p);
  });
}

test('a missing or unusable --upstream-ca is a start-up error (exit 1, one line)', () => {
  const notPem = path.join(w.dir, 'not-a-ca.pem');
  writeFileSync(notPem, 'hello\n');
  for (const f of [path.join(w.dir, 'missing.pem'), w.dir, notPem]) {
    const r = spawnSync(SENDCAPD, ['--listen', '127.0.0.1:0', '--metrics-listen', 'off', '--upstream-ca', f],
      { env: w.env, encoding: 'utf8', timeout: 5000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 1, `${f}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /upstream-ca/);
  }
});

// An OpenSSL configuration that allows TLS 1.0/1.1 (Debian's default one
// does not), standing for a host with a looser policy.
function looseOpensslConf() {
  const f = path.join(w.dir, 'openssl-loose.cnf');
  writeFileSync(f, [
    'openssl_conf = init', '[init]', 'ssl_conf = ssl', '[ssl]', 'system_default = sys',
    '[sys]', 'MinProtocol = TLSv1', 'CipherString = DEFAULT@SECLEVEL=0', '',
  ].join('\n'));
  return f;
}

test('TLS below 1.2 is refused, even where the OpenSSL policy allows it', async () => {
  const old = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
  const fake = await httpsFake(certs.good, old);
  // The fake really speaks TLS 1.1: a permissive Node client gets it.
  const proto = await new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: new URL(fake.url).port, ca: readFileSync(certs.ca), ...old },
      () => { resolve(s.getProtocol()); s.destroy(); });
    s.on('error', (e) => resolve(`error: ${e.message}`));
  });
  assert.equal(proto, 'TLSv1.1', 'the fake serves TLS 1.1');
  fake.tlsErrors.length = 0;
  const env = { OPENSSL_CONF: looseOpensslConf() };
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca], env);
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  errorShape(assert, res, 502, 'application_error');
  assert.equal(fake.received.length, 0, 'nothing reached the fake');
  // Control: the same loose settings against a TLS 1.2+ fake work.
  const modern = await httpsFake(certs.good);
  const q = await proxyTo(modern.url, ['--upstream-ca', certs.ca], env);
  assert.equal((await w.call(key, 'POST', '/emails', email, { proxy: q })).status, 200);
});

test('--upstream-proxy: the call goes through CONNECT, TLS verified end to end, credentials never logged', async () => {
  const fake = await httpsFake(certs.good);
  const cp = await new ConnectProxy().start();
  started.push(cp);
  const secret = 'pr0xyS3cretW0rd';
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca, '--upstream-proxy',
    `http://egress:${secret}@127.0.0.1:${cp.port}`]);
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.received.length, 1);
  assert.deepEqual(cp.connects.map((c) => c.target), [`127.0.0.1:${new URL(fake.url).port}`]);
  assert.equal(cp.connects[0].auth, `Basic ${Buffer.from(`egress:${secret}`).toString('base64')}`);
  assert.equal(cp.plain, 0);
  const seen = cp.bytes().toString('latin1');
  assert.ok(seen.length > 0);
  assert.ok(!seen.includes(w.realKey) && !seen.includes('Bearer') && !seen.includes('/emails'),
    'the proxy saw only ciphertext');
  assert.ok(!p.log.includes(secret), `the proxy password is not logged: ${p.log}`);
  assert.match(p.log, /upstream proxy http:\/\/\*\*\*@127\.0\.0\.1/);
  noSecret(p);
});

test('through --upstream-proxy, a certificate from another CA is still refused', async () => {
  const fake = await httpsFake(certs.otherCaSigned);
  const cp = await new ConnectProxy().start();
  started.push(cp);
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca, '--upstream-proxy', cp.url]);
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  errorShape(assert, res, 502, 'application_error');
  assert.equal(cp.connects.length, 1, 'the call went through the proxy');
  assert.equal(fake.received.length, 0, 'nothing reached the fake');
  assert.ok(!cp.bytes().toString('latin1').includes(w.realKey));
});

const proxyEnv = (url) => ({ https_proxy: url, HTTPS_PROXY: url, http_proxy: url, HTTP_PROXY: url,
  all_proxy: url, ALL_PROXY: url });

test('the *_proxy environment variables are ignored without --upstream-proxy', async () => {
  const fake = await httpsFake(certs.good);
  const cp = await new ConnectProxy().start();
  started.push(cp);
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca], proxyEnv(cp.url));
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  assert.equal(res.status, 200, res.text);
  assert.equal(cp.connects.length + cp.plain, 0, 'the environment proxy was not used');
  assert.equal(fake.received.length, 1);
});

test('no_proxy in the environment cannot route around --upstream-proxy', async () => {
  const fake = await httpsFake(certs.good);
  const cp = await new ConnectProxy().start();
  started.push(cp);
  const other = await new ConnectProxy().start();
  started.push(other);
  const p = await proxyTo(fake.url, ['--upstream-ca', certs.ca, '--upstream-proxy', cp.url],
    { no_proxy: '*', NO_PROXY: '*', ...proxyEnv(other.url) });
  const res = await w.call(key, 'POST', '/emails', email, { proxy: p });
  assert.equal(res.status, 200, res.text);
  assert.equal(cp.connects.length, 1, 'the call went through --upstream-proxy');
  assert.equal(other.connects.length + other.plain, 0);
});

test('a bad --upstream-proxy is a start-up error that does not echo its credentials', () => {
  for (const u of ['ftp://user:S3cr3tPw@127.0.0.1:1', 'not a url S3cr3tPw']) {
    const r = spawnSync(SENDCAPD, ['--listen', '127.0.0.1:0', '--metrics-listen', 'off', '--upstream-proxy', u],
      { env: w.env, encoding: 'utf8', timeout: 5000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 1, `${u}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /upstream-proxy/);
    assert.ok(!r.stderr.includes('S3cr3tPw'), r.stderr);
  }
});
