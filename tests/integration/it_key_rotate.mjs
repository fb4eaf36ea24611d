// `sendcap key rotate`: a new vault key with the same policy, the same daily
// counter and the same emails; the old key works until its grace ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = varied({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });

test('same counter, same emails, old key until the grace ends', async () => {
  const old = w.issue(['--daily-cap', '3', '--to-domain', 'example.com', '--agent-run-id', 'run-rot']);
  const sent = await w.call(old.key, 'POST', '/emails', email);
  assert.equal(sent.status, 200);
  assert.equal((await w.call(old.key, 'POST', '/emails', email)).status, 200);

  const r = w.cli(['key', 'rotate', old.id, '--grace', '2s', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const nk = JSON.parse(r.stdout);
  assert.notEqual(nk.id, old.id);
  assert.match(nk.key, /^vk_/);
  assert.equal(nk.rotated_from, old.id);
  assert.deepEqual(nk.to_domains, ['example.com'], 'same policy');
  assert.equal(nk.daily_cap, 3);
  assert.equal(nk.agent_run_id, 'run-rot');

  // The counter is shared: 2 used, 1 left for both keys together.
  assert.equal((await w.call(nk.key, 'POST', '/emails', email)).status, 200);
  errorShape(assert, await w.call(old.key, 'POST', '/emails', email), 429, 'daily_quota_exceeded');
  errorShape(assert, await w.call(nk.key, 'POST', '/emails', email), 429, 'daily_quota_exceeded');
  // The policy came along.
  errorShape(assert, await w.call(nk.key, 'POST', '/emails', { ...email, to: 'x@evil.com' }), 403, 'invalid_to_address');
  // The emails came along: the new key reads one the old key sent.
  assert.equal((await w.call(nk.key, 'GET', `/emails/${sent.json.id}`)).status, 200);

  // The old key stops when its grace ends.
  const until = Date.parse(nk.old_key_expires_at) + 1100;
  while (Date.now() < until) await new Promise((res) => setTimeout(res, 100));
  errorShape(assert, await w.call(old.key, 'GET', `/emails/${sent.json.id}`), 403, 'vault_key_expired');
  assert.equal((await w.call(nk.key, 'GET', `/emails/${sent.json.id}`)).status, 200);
});

test('no grace: the old key stops at once; revoked keys cannot be rotated', async () => {
  const old = w.issue();
  const r = w.cli(['key', 'rotate', old.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^id: +key_\w+ \(rotated from/);
  errorShape(assert, await w.call(old.key, 'POST', '/emails', email), 403, 'vault_key_expired');
  const k2 = w.issue();
  assert.equal(w.cli(['key', 'revoke', k2.id]).code, 0);
  const rr = w.cli(['key', 'rotate', k2.id]);
  assert.equal(rr.code, 1);
  assert.match(rr.stderr, /revoked/);
  assert.equal(w.cli(['key', 'rotate', 'key_nope']).code, 3);
});
