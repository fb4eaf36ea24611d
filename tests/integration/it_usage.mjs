// `sendcap usage` and `key show`'s sparkline (issue #16 item 6): counts per
// hour come from the per-hour hashes log_write.lua writes with each record,
// so they hold after the stream itself is gone (no scan of sc:log), agree
// with what the fake Resend received, and render as Unicode or ASCII bars
// no wider than the terminal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
let a, b;
before(async () => {
  await w.start();
  a = w.issue(['--daily-cap', '4', '--to-domain', 'example.org', '--dedupe-window', '0']);
  b = w.issue();
  const send = (k, to) => w.call(k.key, 'POST', '/emails', { from: 'x@example.com', to, subject: 's', text: 't' });
  assert.equal((await send(a, ['one@example.org'])).status, 200);
  assert.equal((await send(a, ['two@example.org', 'three@example.org'])).status, 200);
  w.fake.next({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'no' } });
  assert.equal((await send(a, ['four@example.org'])).status, 422); // allowed, given back
  assert.equal((await send(a, ['five@example.org', 'six@example.org'])).status, 429); // 3 + 2 > 4
  assert.equal((await send(a, ['evil@example.net'])).status, 403);
  assert.equal((await send(b, ['x@example.com'])).status, 200);
  assert.equal((await w.call('vk_' + 'N'.repeat(43), 'GET', '/emails/x')).status, 403);
  await w.waitForLog(7);
});
after(async () => { await w.stop(); });

const rows = (args, env) => {
  const r = w.cli(['usage', ...args, '--format', 'json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
};
const sum = (rs) => {
  const s = { sent: 0, allowed: 0, denied: 0, capped: 0, errors: 0, denied_by_reason: {} };
  for (const r of rs) {
    for (const f of ['sent', 'allowed', 'denied', 'capped', 'errors']) s[f] += r[f];
    for (const [k, v] of Object.entries(r.denied_by_reason)) s.denied_by_reason[k] = (s.denied_by_reason[k] ?? 0) + v;
  }
  return s;
};

test('per key: emails kept (refunds out), denials by reason, caps', () => {
  const rs = rows(['--key', a.id]);
  assert.equal(rs.length, 24, 'one bucket per hour of the default 24');
  assert.ok(rs.every((r) => r.key_id === a.id && /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/.test(r.bucket)));
  const s = sum(rs);
  // What Resend accepted through key a: 1 + 2 emails (the 422 was given back).
  const accepted = w.fake.received.filter((e) => e.url === '/emails' && e.headers.authorization === `Bearer ${w.realKey}`);
  assert.equal(accepted.length, 4); // a's three forwarded sends and b's one
  assert.deepEqual(s, { sent: 3, allowed: 3, denied: 2, capped: 1, errors: 0,
    denied_by_reason: { daily_cap: 1, to_domain: 1 } });
  // The daily counter agrees.
  const show = w.cli(['key', 'show', a.id, '--json']);
  assert.equal(JSON.parse(show.stdout).usage.daily.used, 3);
});

test('every call, unknown keys included; --by day; csv', () => {
  const s = sum(rows([]));
  assert.equal(s.sent, 4);
  assert.equal(s.denied, 3);
  assert.equal(s.denied_by_reason.unknown_key, 1);
  const days = rows(['--by', 'day', '--since', '3d']);
  assert.equal(days.length, 4);
  assert.ok(days.every((r) => /T00:00:00Z$/.test(r.bucket)));
  assert.equal(sum(days).sent, 4);
  const csv = w.cli(['usage', '--key', a.id, '--format', 'csv', '--since', '1h']).stdout.trim().split('\n');
  assert.equal(csv[0], 'bucket,sent,allowed,denied,capped,errors,denied_by_reason,errors_by_reason');
  const last = csv.filter((l) => !l.includes(',0,0,0,0,0,,')).slice(1);
  assert.equal(last.length >= 1, true);
  assert.ok(last.some((l) => /daily_cap=1/.test(l) && /to_domain=1/.test(l)), csv.join('\n'));
});

test('counts come from the hour index, not the stream: they survive DEL sc:log', () => {
  const before_ = sum(rows(['--key', a.id]));
  w.redis.cli('DEL', 'sc:log');
  assert.deepEqual(sum(rows(['--key', a.id])), before_);
  // The index expires with the call log's retention (30d default, whole hour).
  const keys = w.redis.raw('KEYS', `sc:uhk:${a.id}:*`).trim().split('\n');
  assert.ok(keys.length >= 1 && keys.length <= 2, keys.join(','));
  const ttl = Number(w.redis.raw('TTL', keys[0]).trim());
  assert.ok(ttl > 30 * 86400 - 60 && ttl <= 30 * 86400 + 3600, `ttl ${ttl}`);
});

test('the table: bars in Unicode or ASCII by locale, never wider than the terminal', () => {
  const uni = w.cli(['usage', '--key', a.id], { env: { LANG: 'C.UTF-8', COLUMNS: '60' } });
  assert.equal(uni.code, 0, uni.stderr);
  const lines = uni.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^HOUR \(UTC\)\s+SENT\s+DENIED\s+CAPPED\s+ERRORS$/);
  assert.equal(lines.length, 1 + 24 + 1);
  assert.match(lines.at(-1), new RegExp(`^total: 3 sent, 2 denied \\(1 by a cap\\), 0 errors for ${a.id}$`));
  const barred = lines.filter((l) => l.includes('\u2588'));
  assert.ok(barred.length >= 1, uni.stdout);
  // the fullest hour's bar reaches column 60 exactly
  assert.ok(barred.some((l) => [...l].length === 60), barred.join('\n'));
  assert.ok(lines.slice(0, -1).every((l) => [...l].length <= 60)); // the total line is text, not chart
  assert.doesNotMatch(uni.stdout, /#/);

  const asc = w.cli(['usage', '--key', a.id], { env: { LANG: 'C', COLUMNS: '60' } });
  assert.match(asc.stdout, /  #+\n/);
  assert.doesNotMatch(asc.stdout, /[^\x00-\x7f]/);
  const flag = w.cli(['usage', '--key', a.id, '--ascii'], { env: { LANG: 'C.UTF-8', COLUMNS: '60' } });
  assert.equal(flag.stdout, asc.stdout);
});

test('key show: a 24-hour sparkline of emails sent', () => {
  const uni = w.cli(['key', 'show', a.id], { env: { LANG: 'C.UTF-8' } });
  const m = uni.stdout.match(/^last 24 hours: \[(.*)\] 3 sent, at most (\d) in an hour \(UTC hours\)$/m);
  assert.ok(m, uni.stdout);
  assert.equal([...m[1]].length, 24);
  assert.match(m[1], /\u2588$|\u2588 ?$/u); // the current hour (or the one before, across the hour) is the tallest
  const asc = w.cli(['key', 'show', a.id], { env: { LANG: 'C' } });
  assert.match(asc.stdout, /^last 24 hours: \[ *@ ?\] 3 sent/m);
  assert.equal(w.cli(['usage', '--key', 'key_nope']).code, 3);
  assert.equal(w.cli(['usage', '--by', 'week']).code, 2);
});
