// `sendcap key revoke` takes effect on the very next call, on every
// sendcapd instance sharing the Redis, even one that has the key cached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('revoked key is refused at once by both instances', async () => {
  const k = w.issue(['--name', 'to-revoke']);
  // Warm both instances' caches.
  for (const p of w.proxies) {
    const ok = await w.call(k.key, 'POST', '/emails', email, { proxy: p });
    assert.equal(ok.status, 200, ok.text);
  }
  const before = w.fake.received.length;
  const rv = w.cli(['key', 'revoke', k.id]);
  assert.equal(rv.code, 0, rv.stderr);
  assert.match(rv.stdout, new RegExp(`^revoked ${k.id} at `));

  for (const p of w.proxies) {
    const res = await w.call(k.key, 'POST', '/emails', email, { proxy: p });
    errorShape(assert, res, 403, 'vault_key_revoked');
    assert.ok(res.json.message.includes(k.id), 'message names the key id');
    assert.match(res.json.message, /revoked at \d{4}-\d\d-\d\dT/);
    // Reads are refused too.
    const get = await w.call(k.key, 'GET', '/emails/abc', undefined, { proxy: p });
    errorShape(assert, get, 403, 'vault_key_revoked');
  }
  assert.equal(w.fake.received.length, before, 'nothing forwarded after revocation');

  const again = w.cli(['key', 'revoke', k.id]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already revoked/);
  const shown = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(shown.status, 'revoked');
});

test('other keys keep working', async () => {
  const a = w.issue();
  const b = w.issue();
  assert.equal(w.cli(['key', 'revoke', a.id]).code, 0);
  const res = await w.call(b.key, 'POST', '/emails', email);
  assert.equal(res.status, 200);
});

test('revoking an unknown id exits 3', () => {
  const r = w.cli(['key', 'revoke', 'key_doesnotexist0000']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no key with id/);
});
