// GET /sendcap/v1/whoami (SPEC §5): the key's own policy and usage, through
// plain fetch; never forwarded; recorded in the call log; any scope.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

test('whoami answers policy and usage, and is never forwarded', async () => {
  const k = w.issue(['--daily-cap', '10', '--name', 'welcome-bot', '--to-domain', 'example.com']);
  w.setControls(k, { monthly_cap: 100, per_recipient_cap: 2, rate_limit: 20, rate_window_ms: 60000 });
  w.fake.reset();
  const s = await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: ['b@example.com', 'c@example.com'], subject: 's', text: 't' });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.headers.get('x-sendcap-quota-remaining'), '8');
  const res = await fetch(`${w.proxy.url}/sendcap/v1/whoami`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.match(res.headers.get('x-request-id'), /^req_/);
  const j = await res.json();
  assert.equal(j.id, k.id);
  assert.equal(j.name, 'welcome-bot');
  assert.equal(j.expires_at, null);
  assert.deepEqual(j.policy.to_domains, ['example.com']);
  assert.equal(j.policy.daily_cap, 10);
  assert.equal(j.policy.monthly_cap, 100);
  assert.equal(j.policy.per_recipient_cap, 2);
  assert.deepEqual(j.policy.rate, { limit: 20, window: '1m' });
  assert.equal(j.policy.dedupe_window_ms, 600000);
  assert.equal(j.usage.daily.used, 2);
  assert.equal(j.usage.daily.remaining, 8);
  assert.equal(j.usage.monthly.used, 2);
  assert.equal(j.usage.monthly.remaining, 98);
  assert.match(j.usage.monthly.resets_at, /^\d{4}-\d{2}-01T00:00:00/);
  assert.equal(j.usage.rate.used, 2, 'the send and this whoami');
  assert.equal(w.fake.received.length, 1, 'whoami never reaches Resend');
  const rows = await w.waitForLog(2, ['--key', k.id]);
  assert.ok(rows.some((r) => r.route === 'sendcap.whoami' && r.status === 200));
});

test('a key without controls: nulls; a bad key is refused', async () => {
  const k = w.issue(['--scope', 'full']);
  const r = await w.call(k.key, 'GET', '/sendcap/v1/whoami');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.daily, null);
  assert.equal(r.json.usage.monthly, null);
  assert.equal(r.json.usage.rate, null);
  assert.equal(r.json.policy.rate, null);
  const s = await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  assert.equal(s.headers.get('x-sendcap-quota-remaining'), null, 'no cap, no header');
  errorShape(assert, await w.call('vk_' + 'x'.repeat(43), 'GET', '/sendcap/v1/whoami'), 403, 'invalid_api_key');
  w.cli(['key', 'revoke', k.id]);
  errorShape(assert, await w.call(k.key, 'GET', '/sendcap/v1/whoami'), 403, 'vault_key_revoked');
});
