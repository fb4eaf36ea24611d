// A key issued with --expires-in stops working when Redis's clock passes
// its expiry; --expires-at in the past is refused by the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = { from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' };

test('key expires by Redis clock', async () => {
  const k = w.issue(['--expires-in', '2s']);
  assert.ok(k.expires_at);
  const ok = await w.call(k.key, 'POST', '/emails', email);
  assert.equal(ok.status, 200, ok.text);
  const until = Date.parse(k.expires_at) + 1000; // expires_at is shown to the second
  while (Date.now() < until + 100) await new Promise((r) => setTimeout(r, 100));
  const n = w.fake.received.length;
  const res = await w.call(k.key, 'POST', '/emails', email);
  errorShape(assert, res, 403, 'vault_key_expired');
  assert.ok(res.json.message.includes(k.id));
  assert.match(res.json.message, /expired at \d{4}-/);
  assert.equal(w.fake.received.length, n, 'nothing forwarded');
  const list = w.cli(['key', 'list']);
  assert.ok(!list.stdout.includes(k.id), 'expired keys are hidden from key list');
  assert.ok(w.cli(['key', 'list', '--all']).stdout.includes('expired'));
});

test('--expires-at in the future works, in the past is refused', async () => {
  const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const k = w.issue(['--expires-at', future]);
  assert.equal(k.expires_at, future);
  const ok = await w.call(k.key, 'POST', '/emails', email);
  assert.equal(ok.status, 200);
  const r = w.cli(['key', 'issue', '--upstream', 'prod', '--expires-at', '2001-01-01T00:00:00Z']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /in the past/);
  const both = w.cli(['key', 'issue', '--upstream', 'prod', '--expires-at', future, '--expires-in', '1h']);
  assert.equal(both.code, 2);
});
