// Owner notices (SPEC §6, issue #13 item 4): with --notice-from and
// --notice-upstream, `key revoke` mails the key's owner once, through the
// fake Resend as the notice upstream, in plain words with the key id and
// never a key value; the mail is in the call log as the proxy's own call
// and counts against no key.  An owner that is not an address gets none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';
import { until } from '../lib/webhook-receiver.mjs';

const w = new World();
const noticeArgs = ['--notice-from', 'sendcap@notices.example.com', '--notice-upstream', 'prod'];
before(async () => {
  await w.start({ proxies: 2, proxyArgs: noticeArgs });
  // Notices are queued only while an instance that sends them runs.
  assert.ok(await until(() => w.redis.raw('EXISTS', 'sc:notice').trim() === '1'));
});
after(async () => { await w.stop(); });

const mails = (to) => w.fake.received.filter((r) => r.method === 'POST' && r.url === '/emails' &&
  r.json?.to?.[0] === to);

test('key revoke mails the owner once: plain words, the key id, no key value', async () => {
  const k = w.issue(['--owner', 'owner@example.com', '--name', 'billing-agent', '--daily-cap', '3']);
  assert.ok(await until(() => mails('owner@example.com').length === 1), 'key.issued notice');
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  assert.ok(await until(() => mails('owner@example.com').length === 2), 'key.revoked notice');
  await new Promise((r) => setTimeout(r, 2500)); // room for a second copy
  const got = mails('owner@example.com');
  assert.equal(got.length, 2, 'one mail per event, with two instances running');
  const revoked = got.find((m) => /revoked/i.test(m.json.subject));
  assert.ok(revoked, got.map((m) => m.json.subject).join(' / '));
  assert.equal(revoked.json.from, 'sendcap@notices.example.com');
  assert.deepEqual(revoked.json.to, ['owner@example.com']);
  assert.equal(revoked.headers.authorization, `Bearer ${w.realKey}`, 'sent with the notice upstream\'s key');
  assert.match(revoked.headers['idempotency-key'], /^sendcap-notice-\d+-\d+$/);
  const text = revoked.json.text;
  assert.ok(text.includes(k.id), 'names the key id');
  assert.ok(text.includes('billing-agent'));
  assert.match(text, /What happened: .*revoked/);
  assert.match(text, /When: \d{4}-\d\d-\d\dT/);
  assert.match(text, /What to do: /);
  const whole = JSON.stringify(revoked.json);
  assert.ok(!/vk_[A-Za-z0-9]/.test(whole) && !whole.includes(k.key.slice(3)), 'no vault key');
  assert.ok(!/re_[A-Za-z0-9]/.test(whole) && !whole.includes(w.realKey.slice(3)), 'no real key');

  // The proxy's own call in the call log; the key's counters untouched.
  const rows = await w.waitForLog(2);
  const own = rows.filter((r) => r.route === 'notice.send');
  assert.equal(own.length, 2, JSON.stringify(rows));
  assert.ok(own.every((r) => r.decision === 'allowed' && r.status === 200 && r.key_id === ''));
  const shown = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(shown.used_today, 0, JSON.stringify(shown));
});

test('an owner that is not an address is not mailed; no notice settings, no notices', async () => {
  const before = w.fake.received.length;
  const k = w.issue(['--owner', 'the billing team']);
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(w.fake.received.length, before);
  assert.equal(w.redis.raw('ZCARD', 'sc:whq').trim(), '0', 'dropped, not left queued');
  // And `event list` says so, rather than showing it pending for 30 days.
  const ev = w.cli(['event', 'list', '--key', k.id, '--type', 'key.revoked', '--json']).stdout.trim()
    .split('\n').map((l) => JSON.parse(l))[0];
  assert.equal(ev.deliveries.find((d) => d.target === 'notice').state, 'failed', JSON.stringify(ev.deliveries));
});
