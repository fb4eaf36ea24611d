// SPEC §7: an approved held send is forwarded exactly once.  The instance
// forwarding it is SIGKILLed after Resend has the request and before the
// outcome is recorded; another instance takes it when the lease ends and
// forwards it again with the same Idempotency-Key (derived from the held
// id), which Resend answers as a replay: one email, one reservation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { World, SENDCAP } from '../lib/harness.mjs';

const args = ['--upstream-timeout', '2s'];
const w = new World();
before(async () => { await w.start({ proxies: 1, proxyArgs: args }); });
after(async () => { await w.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 20000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) if (fn()) return true;
  return false;
}

test('SIGKILL between forward and record: the retry carries the same Idempotency-Key, nothing else', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const r = await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'x' });
  assert.equal(r.status, 202, r.text);
  const hid = r.json.id;
  w.fake.reset();
  w.fake.next({ hang: true });
  // Not spawnSync: the fake answers on this process's event loop.
  const approve = spawn(SENDCAP, ['approval', 'approve', hid], { env: w.env, stdio: 'ignore' });
  assert.ok(await until(() => w.fake.received.length === 1), 'the first forward reached Resend');
  await w.proxy.stop('SIGKILL');
  assert.equal(w.redis.raw('HGET', `sc:held:${hid}`, 'status').trim(), 'approved', 'no outcome recorded');
  await w.addProxy(args);
  assert.ok(await until(() => w.redis.raw('HGET', `sc:held:${hid}`, 'status').trim() === 'sent'), 'sent by the other instance');
  await sleep(1500);
  const posts = w.fake.received.filter((x) => x.method === 'POST');
  assert.ok(posts.length <= 2, `at most the lost attempt and its replay, got ${posts.length}`);
  for (const p of posts) assert.equal(p.headers['idempotency-key'], `sendcap-held-${hid}`, 'every attempt carries the held id\'s key');
  const ck = w.redis.raw('HGET', `sc:held:${hid}`, 'ck').trim();
  assert.equal(w.redis.raw('GET', ck).trim(), '1', 'one reservation');
  assert.notEqual(w.redis.raw('HGET', `sc:held:${hid}`, 'email_id').trim(), '');
  approve.kill();
});
