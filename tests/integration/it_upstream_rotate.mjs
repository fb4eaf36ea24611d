// `sendcap upstream rotate` swaps the real key; the next call of every vault
// key on that upstream carries the new key, with no change for agents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });

const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });

test('rotate: next call uses the new real key on every instance', async () => {
  const k = w.issue();
  for (const p of w.proxies) assert.equal((await w.call(k.key, 'POST', '/emails', email, { proxy: p })).status, 200);
  assert.equal(w.fake.received.at(-1).headers.authorization, `Bearer ${w.realKey}`);

  const newKey = 're_RotatedRealKey_0123456789';
  w.fake.validKeys.clear();
  w.fake.validKeys.add(newKey);
  const r = w.cli(['upstream', 'rotate', 'prod', '--from-env', 'NEWKEY'], { env: { NEWKEY: newKey } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(newKey) && !r.stderr.includes(newKey));

  for (const p of w.proxies) {
    const res = await w.call(k.key, 'POST', '/emails', email, { proxy: p });
    assert.equal(res.status, 200, res.text);
    assert.equal(w.fake.received.at(-1).headers.authorization, `Bearer ${newKey}`);
  }
  const list = JSON.parse(w.cli(['upstream', 'list', '--json']).stdout);
  assert.equal(list.fingerprint, 're_…6789');
  assert.ok(list.rotated_at);
});

test('rotate of an unknown upstream exits 3', () => {
  const r = w.cli(['upstream', 'rotate', 'nope'], { input: 're_x_1234\n' });
  assert.equal(r.code, 3, r.stderr);
});
