// SPEC §7 held sends through the official Resend Node SDK: a gated key's
// send comes back as data {id: held_…}, nothing reaches Resend until a
// person approves it with `sendcap approval approve`, which makes one
// sendcapd forward it exactly once with the real key; reject and
// --hold-ttl give the reservation back and delete the sealed body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resend } from 'resend';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mail = (marker, to = ['alice@example.com']) => ({ from: 'Agent <agent@example.com>', to, subject: `Rotate your key ${marker}`, text: `Body ${marker}` });
const counter = (hid) => Number(w.redis.raw('GET', w.redis.raw('HGET', `sc:held:${hid}`, 'ck').trim()).trim() || '0');
const cliAsync = (args) => w.cliAsync(args);
async function until(fn, what) {
  for (let i = 0; i < 200; i++) { const v = await fn(); if (v) return v; await sleep(50); }
  throw new Error(`timed out waiting for ${what}`);
}

test('gated: held, listed, shown, approved once with the real key; GET gives the Resend id; the call log names the approver', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '10']);
  assert.equal(JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout).oversight, 'gated');
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  w.fake.reset();
  const { data, error } = await resend.emails.send({ ...mail('M1'), html: '<p>Hello &amp; <b>bye</b></p>', text: undefined });
  assert.equal(error, null);
  assert.match(data.id, /^held_[A-Za-z0-9]{24}$/);
  assert.equal(data.object, 'held_email');
  assert.equal(data.status, 'pending');
  await sleep(300);
  assert.equal(w.fake.received.length, 0, 'nothing reaches Resend while held');
  const pending = await resend.emails.get(data.id);
  assert.equal(pending.data.status, 'pending');
  assert.equal(pending.data.email_id, null);

  const list = w.cli(['approval', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.some((r) => r.id === data.id && r.key_id === k.id && r.status === 'pending' && r.recipients === 1));
  const show = w.cli(['approval', 'show', data.id]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /from\s+Agent <agent@example.com>/);
  assert.match(show.stdout, /to\s+alice@example.com/);
  assert.match(show.stdout, /subject\s+Rotate your key M1/);
  assert.match(show.stdout, /Hello & bye/, 'the html as text');
  assert.doesNotMatch(show.stdout, /vk_|re_/);

  // The fake Resend lives in this process: the CLI, which waits for the
  // forward, must not block its event loop (spawnSync would).
  const ok = await cliAsync(['--actor', 'alice (security)', 'approval', 'approve', data.id, '--note', 'checked']);
  assert.equal(ok.code, 0, ok.stderr);
  const got = await until(() => w.fake.received.length >= 1 && w.fake.received, 'the forward');
  await sleep(500);
  assert.equal(w.fake.received.length, 1, 'forwarded exactly once');
  assert.equal(got[0].url, '/emails');
  assert.equal(got[0].headers.authorization, `Bearer ${w.realKey}`);
  assert.equal(got[0].headers['idempotency-key'], `sendcap-held-${data.id}`);
  assert.equal(got[0].json.subject, 'Rotate your key M1');
  const sent = await until(async () => { const r = await resend.emails.get(data.id); return r.data?.email_id && r; }, 'email_id');
  assert.equal(sent.data.status, 'approved');
  assert.match(ok.stdout, new RegExp(sent.data.email_id));
  // Sent: its body is gone, and so is its place among the family's waiting.
  assert.equal(w.redis.raw('HGET', `sc:held:${data.id}`, 'sealed').trim(), '');
  assert.equal(w.redis.raw('EXISTS', `sc:held:fam:${k.id}`).trim(), '0');
  // The family owns the email Resend returned, as any send of its.
  assert.equal((await resend.emails.get(sent.data.email_id)).error, null);

  const log = await w.waitForLog(3, ['--key', k.id]);
  const held = log.find((r) => r.reason === 'held');
  const approved = log.find((r) => r.reason === 'approved');
  const fwd = log.find((r) => r.reason === 'sent');
  assert.equal(held.status, 202);
  assert.deepEqual(held.email_ids, [data.id]);
  assert.ok(approved && fwd, JSON.stringify(log));
  assert.equal(approved.client, 'alice (security)', 'the approver');
  assert.equal(fwd.client, approved.client);
  assert.ok(fwd.email_ids.includes(sent.data.email_id));

  const again = await cliAsync(['approval', 'approve', data.id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /is sent already/);
  assert.equal(w.fake.received.filter((r) => r.method === 'POST').length, 1, 'still one send');
  assert.equal(w.cli(['log', 'verify']).code, 0, 'the decision records chain like any');
  // The admin trail has the decision, who made it, and only the one that won.
  const trail = w.cli(['log', 'query', '--admin', '--format', 'json']).stdout.trim().split('\n')
    .map((l) => JSON.parse(l)).filter((x) => x.target === data.id);
  assert.equal(trail.length, 1, JSON.stringify(trail));
  assert.equal(trail[0].action, 'approval.approve');
  assert.equal(trail[0].actor, 'alice (security)');
  assert.deepEqual(trail[0].changes.status, { old: 'pending', new: 'approved' });
  assert.deepEqual(trail[0].changes.note, { old: null, new: 'checked' });
});

test('two approves at once: one wins, forwarded once', async () => {
  const k = w.issue(['--oversight', 'gated']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  w.fake.reset();
  const { data } = await resend.emails.send(mail('M2'));
  const rs = await Promise.all([cliAsync(['approval', 'approve', data.id]), cliAsync(['approval', 'approve', data.id])]);
  assert.deepEqual(rs.map((r) => r.code).sort(), [0, 1], JSON.stringify(rs));
  assert.match(rs.find((r) => r.code === 1).stderr, /already/);
  await until(() => w.fake.received.length >= 1, 'the forward');
  await sleep(1500);
  assert.equal(w.fake.received.length, 1);
});

test('reject: the reservation comes back and the body is gone from Redis', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  w.fake.reset();
  const { data } = await resend.emails.send(mail('MARKER_REJECT_7f3a', ['a@example.com', 'b@example.com']));
  assert.equal(counter(data.id), 2);
  const r = w.cli(['approval', 'reject', data.id, '--reason', 'looks phished']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(counter(data.id), 0);
  assert.equal(w.redis.raw('HGET', `sc:held:${data.id}`, 'sealed').trim(), '');
  assert.ok(!w.redisDump().includes('MARKER_REJECT_7f3a'), 'no clear body in Redis');
  assert.equal((await resend.emails.get(data.id)).data.status, 'rejected');
  assert.equal(w.cli(['approval', 'reject', data.id, '--reason', 'x']).code, 1);
  assert.equal(w.cli(['approval', 'reject', data.id]).code, 2, '--reason is required');
  const log = await w.waitForLog(2, ['--key', k.id]);
  assert.ok(log.some((x) => x.reason === 'rejected' && x.client.includes('@')));
  const trail = w.cli(['log', 'query', '--admin', '--format', 'json']).stdout.trim().split('\n')
    .map((l) => JSON.parse(l)).filter((x) => x.target === data.id);
  assert.equal(trail.length, 1, 'the refused second reject writes nothing');
  assert.equal(trail[0].action, 'approval.reject');
  assert.match(trail[0].actor, /.+@.+/, 'the OS user and host without --actor');
  assert.deepEqual(trail[0].changes.reason, { old: null, new: 'looks phished' });
  await sleep(300);
  assert.equal(w.fake.received.length, 0);
  const ev = w.cli(['event', 'list', '--key', k.id, '--json']).stdout;
  assert.match(ev, /send\.held/);
  assert.match(ev, /send\.rejected/);
  assert.doesNotMatch(ev, /MARKER_REJECT|a@example\.com/, 'events carry no body or address');
});

test('--hold-ttl 2s: expired and refunded without a decision', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '5', '--hold-ttl', '2s']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  const { data } = await resend.emails.send(mail('M4'));
  assert.equal(counter(data.id), 1);
  await until(async () => (await resend.emails.get(data.id)).data?.status === 'expired', 'expiry');
  assert.equal(counter(data.id), 0);
  assert.equal(w.redis.raw('HGET', `sc:held:${data.id}`, 'sealed').trim(), '');
  const late = w.cli(['approval', 'approve', data.id]);
  assert.equal(late.code, 1);
  assert.match(late.stderr, /expired/);
  const log = await w.waitForLog(2, ['--key', k.id]);
  assert.ok(log.some((x) => x.reason === 'expired' && x.client === 'sweep'));
});

test('held sends count against caps: cap 2, three gated sends -> two held, the third 429', async () => {
  const k = w.issue(['--oversight', 'gated', '--daily-cap', '2']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  const a = await resend.emails.send(mail('C1'));
  const b = await resend.emails.send(mail('C2'));
  const c = await resend.emails.send(mail('C3'));
  assert.match(a.data.id, /^held_/);
  assert.match(b.data.id, /^held_/);
  assert.equal(c.error.statusCode, 429);
  assert.equal(c.error.name, 'daily_quota_exceeded');
});

test('gated-new-recipients: a new address is held, after approval the next send to it goes at once, a mix is held', async () => {
  const k = w.issue(['--oversight', 'gated-new-recipients']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  w.fake.reset();
  const first = await resend.emails.send(mail('N1', ['New@Example.com']));
  assert.match(first.data.id, /^held_/);
  assert.equal((await cliAsync(['approval', 'approve', first.data.id])).code, 0);
  await until(() => w.fake.received.length >= 1, 'the forward');
  const next = await resend.emails.send(mail('N2', ['new@example.com']));
  assert.equal(next.error, null);
  assert.doesNotMatch(next.data.id, /^held_/, 'a known address goes at once');
  assert.equal(w.fake.received.length, 2);
  const mix = await resend.emails.send(mail('N3', ['new@example.com', 'other@example.com']));
  assert.match(mix.data.id, /^held_/, 'one new address holds the send');
  assert.equal(w.fake.received.length, 2);
});

test('monitored: forwarded at once, with a send.monitored event', async () => {
  const k = w.issue(['--oversight', 'monitored']);
  const resend = new Resend(k.key, { baseUrl: w.proxy.url });
  w.fake.reset();
  const r = await resend.emails.send(mail('MON'));
  assert.equal(r.error, null);
  assert.doesNotMatch(r.data.id, /^held_/);
  assert.equal(w.fake.received.length, 1);
  assert.match(w.cli(['event', 'list', '--key', k.id, '--json']).stdout, /send\.monitored/);
});

test('a held id is not readable by another key family', async () => {
  const k = w.issue(['--oversight', 'gated']);
  const other = w.issue();
  const { data } = await new Resend(k.key, { baseUrl: w.proxy.url }).emails.send(mail('X'));
  const r = await new Resend(other.key, { baseUrl: w.proxy.url }).emails.get(data.id);
  assert.equal(r.error.statusCode, 401);
  assert.equal(r.error.name, 'restricted_api_key');
});
