// deploy/local-cluster.sh: Redis, three sendcapd and HAProxy round-robin in
// front; caps stay exact through the balancer, and the script stops what it
// started.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeResend } from '../lib/fake-resend.mjs';
import { freePort, World } from '../lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const w = new World(); // for its temp dir and CLI helper only
let fake, proc, out = '', env;
before(async () => {
  fake = await new FakeResend().start();
  fake.validKeys.add(w.realKey);
  const front = await freePort();
  proc = spawn(path.join(root, 'deploy/local-cluster.sh'), ['3'], {
    env: { ...process.env, SENDCAP_BIN: path.dirname(process.env.SENDCAPD ?? path.join(root, 'build/sendcapd')),
      SENDCAP_UPSTREAM_URL: fake.url, CLUSTER_PORT: String(front), CLUSTER_STATE: path.join(w.dir, 'cluster') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  for (let i = 0; i < 1200 && !out.includes('cluster: front'); i++) await new Promise((r) => setTimeout(r, 25));
  const m = out.match(/cluster: front (\S+) redis (\S+) state (\S+)/);
  assert.ok(m, out);
  w.front = m[1];
  env = { PATH: process.env.PATH, SENDCAP_REDIS_URL: m[2], SENDCAP_MASTER_KEY_FILE: path.join(m[3], 'master.key') };
  w.env = env;
  assert.equal(w.cli(['upstream', 'add', 'prod'], { input: `${w.realKey}\n` }).code, 0);
});
after(async () => {
  if (proc.exitCode === null) proc.kill('SIGTERM');
  await fake.stop();
});

test('cap 40 through HAProxy and three sendcapd: exactly 40 forwarded', async () => {
  const k = w.issue(['--daily-cap', '40']);
  const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => fetch(`${w.front}/emails`, {
    method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: `s ${i}`, text: 't' }),
  }).then((r) => r.status)));
  assert.equal(statuses.filter((s) => s === 200).length, 40);
  assert.equal(statuses.filter((s) => s === 429).length, 260);
  assert.equal(fake.received.length, 40);
  await w.waitForLog(300);
  const v = w.cli(['log', 'verify']);
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, /from 3 writers/, 'all three instances served');
});

test('SIGTERM stops the cluster', async () => {
  const exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
  const res = await fetch(`${w.front}/emails`, { method: 'POST' }).catch(() => null);
  assert.equal(res, null, 'nothing listens any more');
});
