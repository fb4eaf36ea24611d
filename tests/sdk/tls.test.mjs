// HTTPS for agents (--tls-cert/--tls-key): the official SDK sends through
// https:// with the test CA trusted via NODE_EXTRA_CA_CERTS; TLS 1.1 and
// non-forward-secret ciphers are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { World } from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// Run a node script without blocking this process: the fake Resend lives here.
function nodeScript(script, env) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: here, env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
const w = new World();
let ca;
before(async () => {
  await w.start({ proxies: 0 });
  const d = w.dir;
  const run = (...args) => {
    const r = spawnSync('openssl', args, { cwd: d, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sendcap test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
    '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
});
after(async () => { await w.stop(); });

test('the SDK sends over https://', async () => {
  // The server certificate, with the address agents use as its name.
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(w.dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const r = spawnSync('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext'], { cwd: w.dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  ca = path.join(w.dir, 'ca.pem');
  const p = await w.addProxy(['--tls-cert', path.join(w.dir, 'server.pem'), '--tls-key', path.join(w.dir, 'server.key')]);
  assert.match(p.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const k = w.issue();
  const script = `
    import { Resend } from 'resend';
    const r = await new Resend(process.env.VK, { baseUrl: process.env.URL }).emails.send(
      { from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' });
    console.log(JSON.stringify(r));`;
  const child = await nodeScript(script, { NODE_EXTRA_CA_CERTS: ca, VK: k.key, URL: p.url });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim().split('\n').at(-1));
  assert.equal(out.error, null, JSON.stringify(out.error));
  assert.match(out.data.id, /^[0-9a-f-]{36}$/);
  assert.equal(w.fake.received.at(-1).headers.authorization, `Bearer ${w.realKey}`);

  // Without the CA the certificate does not verify: TLS is real.
  const untrusted = await nodeScript(script, { VK: k.key, URL: p.url, NODE_EXTRA_CA_CERTS: '' });
  assert.match(untrusted.stdout, /application_error|Unable to fetch/);
});

test('TLS 1.1 and non-forward-secret ciphers are refused', async () => {
  const p = w.proxies[0];
  const { port } = new URL(p.url);
  const tryConnect = (opts) => new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: Number(port), ca: [], rejectUnauthorized: false, ...opts },
      () => { const v = s.getProtocol(); s.destroy(); resolve(v); });
    s.on('error', (e) => resolve(`error: ${e.code ?? e.message}`));
  });
  assert.equal(await tryConnect({ maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' }), 'TLSv1.2');
  assert.equal(await tryConnect({}), 'TLSv1.3');
  assert.match(await tryConnect({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /^error/);
  assert.match(await tryConnect({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-GCM-SHA384' }), /^error/);
});
