// Nothing is lost: a send whose client hangs up mid-request is still logged
// with its outcome; a daemon killed (SIGKILL) while Resend holds a send
// leaves that send on record with outcome "unknown"; after a restart the
// log still answers queries and verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { World } from '../lib/harness.mjs';

const w = new World();
let k;
before(async () => {
  await w.start();
  k = w.issue(['--agent-run-id', 'run-crash']);
});
after(async () => { await w.stop(); });

const body = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
const rows = () => w.cli(['log', 'query', '--agent-run-id', 'run-crash', '--format', 'json']).stdout
  .trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

async function openConns() {
  const text = await (await fetch(`${w.proxy.metricsUrl}/metrics`)).text();
  return Number(text.match(/^sendcap_open_connections (\d+)$/m)[1]);
}

async function until(fn) {
  for (let i = 0; i < 200; i++) { if (fn()) return; await new Promise((r) => setTimeout(r, 25)); }
  assert.fail('condition not met in time');
}

test('client disconnects mid-request: the call is still logged with its outcome', async () => {
  w.fake.next({ hang: true });
  const u = new URL(w.proxy.url);
  const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path: '/emails',
    headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  req.on('error', () => {});
  req.end(body);
  await until(() => w.fake.hanging.length === 1);
  const open = await openConns();
  assert.ok(open >= 1, 'the agent\'s connection is open');
  req.destroy(); // the agent hangs up
  // Resend answers only once sendcapd has seen the hang-up.
  for (let i = 0; i < 200 && await openConns() >= open; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await openConns() < open, 'sendcapd saw the agent hang up');
  const held = w.fake.hanging.shift();
  held.writeHead(200, { 'content-type': 'application/json' });
  held.end('{"id":"sent-while-gone"}');
  await until(() => rows().some((r) => r.email_ids.includes('sent-while-gone')));
  const row = rows().find((r) => r.email_ids.includes('sent-while-gone'));
  assert.equal(row.decision, 'allowed');
  assert.equal(row.status, 200);
  assert.equal(row.client_gone, true);
  assert.equal(row.outcome, 'known');
});

test('SIGKILL while Resend holds the send: outcome unknown; restart; queries work', async () => {
  w.fake.next({ hang: true });
  const pending = w.call(k.key, 'POST', '/emails', body.replace('"s"', '"s1"'), { headers: { 'x-agent-run-id': 'claimed-crash' } }).catch(() => null);
  await until(() => w.fake.hanging.length === 1);
  const { sig } = await w.proxy.stop('SIGKILL');
  assert.equal(sig, 'SIGKILL');
  await pending;
  w.fake.hanging.shift().destroy();

  const crashed = rows().filter((r) => r.outcome === 'unknown');
  assert.equal(crashed.length, 1, 'the intent written before forwarding is on record');
  assert.equal(crashed[0].decision, 'allowed');
  assert.equal(crashed[0].reason, 'outcome_unknown');
  assert.equal(crashed[0].key_id, k.id);
  assert.deepEqual(crashed[0].recipient_addresses, ['b@example.com']);
  const table = w.cli(['log', 'query', '--agent-run-id', 'run-crash']).stdout;
  assert.match(table, /outcome_unknown/);
  // The intent is the sc:intents member itself (the packed record): one
  // write to add it and one to remove it, no string key beside it.
  const members = w.redis.raw('ZRANGE', 'sc:intents', '0', '-1').trim().split('\n');
  assert.equal(members.length, 1);
  assert.ok(members[0].startsWith('v1') && members[0].includes(crashed[0].request_id), members[0]);
  assert.equal(w.redis.raw('KEYS', 'sc:intent:*').trim(), '');

  const p = await w.addProxy();
  // Another subject: the crashed send above holds this email's dedupe record (SPEC §5).
  const res = await w.call(k.key, 'POST', '/emails', body.replace('"s"', '"s2"'), { proxy: p });
  assert.equal(res.status, 200);
  await until(() => rows().length === 3);
  assert.equal(rows().filter((r) => r.outcome === 'unknown').length, 1);
  const v = w.cli(['log', 'verify']);
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, /from 2 writers/);
});

test('an intent of the earlier layout (a string named by its request id) is still shown', async () => {
  const [rec] = w.redis.raw('ZRANGE', 'sc:intents', '0', '-1').trim().split('\n');
  const rid = rows().find((r) => r.outcome === 'unknown').request_id;
  const old = rid.slice(0, -1) + (rid.endsWith('Z') ? 'Y' : 'Z');
  w.redis.raw('SET', `sc:intent:${old}`, rec.replace(rid, old));
  w.redis.raw('ZADD', 'sc:intents', String(Date.now()), old);
  const unknown = rows().filter((r) => r.outcome === 'unknown');
  assert.deepEqual(unknown.map((r) => r.request_id).sort(), [rid, old].sort());
});
