// An auditor reconstructs an agent run from sendcap alone: a scripted run
// (allowed sends, a from-domain denial, a cap hit, an unknown key, an
// upstream 500) -> `log query --agent-run-id` returns exactly those calls,
// with the right decisions and reasons, in table, JSON and CSV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
let k;
const run = 'run-' + Math.random().toString(36).slice(2);
const calls = [];
let tMiddle;
before(async () => {
  await w.start();
  k = w.issue(['--agent-run-id', run, '--from-domain', 'example.com', '--daily-cap', '4']);
  const other = w.issue(['--agent-run-id', 'someone-else']);
  await w.call(other.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  const send = async (key, body, expect, headers = {}) => {
    const res = await w.call(key, 'POST', '/emails', body, { headers });
    assert.equal(res.status, expect, res.text);
    calls.push({ id: res.headers.get('x-request-id'), status: res.status });
    return res;
  };
  const email = (extra = {}) => varied({ from: 'Bot <bot@example.com>', to: ['a@example.org'], subject: 's', text: 't', ...extra });
  await send(k.key, email(), 200);
  await send(k.key, email({ to: ['b@example.org', 'c@example.net'] }), 200);
  await send(k.key, email({ from: 'bot@evil.com' }), 403);
  await new Promise((r) => setTimeout(r, 30));
  tMiddle = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 30));
  await send(k.key, email({ to: ['d@example.org', 'e@example.org'] }), 429);
  await send('vk_' + 'Z'.repeat(43), email(), 403, { 'x-agent-run-id': run });
  w.fake.next({ status: 500, body: { statusCode: 500, name: 'application_error', message: 'boom' } });
  await send(k.key, email(), 500);
  await w.waitForLog(6, ['--agent-run-id', run]); // final records are written off the critical path
});
after(async () => { await w.stop(); });

const expected = [
  { decision: 'allowed', reason: 'ok', status: 200, upstream_status: 200, recipients: 1 },
  { decision: 'allowed', reason: 'ok', status: 200, upstream_status: 200, recipients: 2 },
  { decision: 'denied', reason: 'from_domain', status: 403, upstream_status: null, recipients: 1 },
  { decision: 'denied', reason: 'daily_cap', status: 429, upstream_status: null, recipients: 2 },
  { decision: 'denied', reason: 'unknown_key', status: 403, upstream_status: null },
  { decision: 'error', reason: 'upstream_error', status: 500, upstream_status: 500, recipients: 1 },
];

function query(...args) {
  const r = w.cli(['log', 'query', '--agent-run-id', run, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('json: exactly the run, in order, with decisions and reasons', () => {
  const rows = query('--format', 'json').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, expected.length);
  rows.forEach((row, i) => {
    assert.equal(row.request_id, calls[i].id, 'request_id is the X-Request-Id returned');
    for (const [f, v] of Object.entries(expected[i])) assert.equal(row[f], v, `row ${i} ${f}`);
    assert.equal(row.outcome, 'known');
    assert.equal(row.route, 'emails.send');
  });
  assert.equal(rows[0].key_id, k.id);
  assert.equal(rows[0].agent_run_id, run);
  assert.deepEqual(rows[1].recipient_domains, ['example.org', 'example.net']);
  assert.deepEqual(rows[1].recipient_addresses, ['b@example.org', 'c@example.net']);
  assert.equal(rows[1].from_domain, 'example.com');
  assert.equal(rows[0].email_ids.length, 1);
  assert.match(rows[0].email_ids[0], /^[0-9a-f-]{36}$/);
  assert.match(rows[4].key_id, /^fp:[0-9a-f]{12}$/, 'unknown key: a fingerprint, never the key');
  assert.equal(rows[4].claimed_agent_run_id, run);
  assert.ok(rows.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.time)));
  assert.ok(rows[0].latency_ms >= 0 && rows[0].upstream_latency_ms >= 0);
});

test('csv: a header row and one row per call', () => {
  const lines = query('--format', 'csv').trim().split('\n');
  assert.equal(lines[0].split(',')[0], 'time');
  assert.ok(lines[0].includes('decision') && lines[0].includes('reason'));
  assert.equal(lines.length, 1 + expected.length);
  const col = lines[0].split(',').indexOf('reason');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[col]), expected.map((e) => e.reason));
  assert.ok(lines[2].includes('b@example.org;c@example.net'));
});

test('table: aligned, one line per call', () => {
  const lines = query().trim().split('\n');
  assert.match(lines[0], /^TIME\s+REQUEST\s+KEY\s+RUN\s+ROUTE/);
  assert.equal(lines.length, 1 + expected.length);
  expected.forEach((e, i) => assert.ok(lines[i + 1].includes(e.reason), lines[i + 1]));
});

test('--decision, --since, --until, --limit, --key filter', () => {
  const denied = query('--format', 'json', '--decision', 'denied').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(denied.map((r) => r.reason), ['from_domain', 'daily_cap', 'unknown_key']);
  const late = query('--format', 'json', '--since', tMiddle).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(late.map((r) => r.reason), ['daily_cap', 'unknown_key', 'upstream_error']);
  const early = query('--format', 'json', '--until', tMiddle).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(early.map((r) => r.reason), ['ok', 'ok', 'from_domain']);
  const last2 = query('--format', 'json', '--limit', '2').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(last2.map((r) => r.reason), ['unknown_key', 'upstream_error'], 'newest N, newest last');
  const recent = query('--format', 'json', '--since', '1h').trim().split('\n');
  assert.equal(recent.length, expected.length);
  const byKey = w.cli(['log', 'query', '--key', k.id, '--format', 'json']).stdout.trim().split('\n');
  assert.equal(byKey.length, expected.length - 1, 'the unknown-key call is not this key\'s');
  const all = w.cli(['log', 'query', '--format', 'json']).stdout.trim().split('\n');
  assert.equal(all.length, expected.length + 1, 'every call, the other agent\'s too');
});

test('key show: usage today and recent denials', () => {
  const s = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(s.used_today, 4, '1 + 2 sent, the 2 over the cap not counted, the 5xx keeps its 1');
  assert.deepEqual(s.recent_denials.map((d) => d.reason), ['from_domain', 'daily_cap']);
});

test('log verify passes on the untouched log', () => {
  const r = w.cli(['log', 'verify']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /verified \d+ records from 1 writers/);
});
