// `sendcap log verify` passes on an untouched log and fails, naming the
// record, after each of: editing a field in Redis, deleting a record,
// inserting a forged record, inserting a copy of a real one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => {
  await w.start();
  const k = w.issue(['--agent-run-id', 'run-t']);
  for (let i = 0; i < 6; i++) {
    await w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: `u${i}@example.com`, subject: 's', text: 't' });
  }
  await w.call(k.key, 'GET', '/api-keys');
  for (let i = 0; i < 200 && entries().length < 7; i++) await new Promise((r) => setTimeout(r, 20));
});
after(async () => { await w.stop(); });

// The stream as [id, [[field, value], ...]] using redis-cli's raw output.
function entries() {
  // Stream ids look like 1795443073689-0; no field value does.
  const ids = w.redis.raw('XRANGE', 'sc:log', '-', '+').split('\n').filter((l) => /^\d{13}-\d+$/.test(l));
  return ids.map((id) => ({ id, fields: fieldsOf(id) }));
}

function fieldsOf(id) {
  const r = w.redis.cli('--raw', 'XRANGE', 'sc:log', id, id);
  const lines = r.stdout.split('\n');
  lines.shift(); // the id
  const f = [];
  for (let i = 0; i + 1 < lines.length; i += 2) f.push([lines[i], lines[i + 1]]);
  return f.filter(([n]) => n !== '');
}

// Rewrite the whole stream with the same ids (what an attacker with Redis
// access would do to "edit" an immutable stream entry).
function rewrite(list) {
  w.redis.cli('DEL', 'sc:log');
  for (const e of list) {
    const args = ['XADD', 'sc:log', e.id];
    for (const [n, v] of e.fields) args.push(n, v);
    const r = w.redis.cli(...args);
    assert.equal(r.status, 0, r.stderr);
  }
}

const verify = () => w.cli(['log', 'verify']);

test('untouched: passes', () => {
  const r = verify();
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /verified 7 records from 1 writers/);
});

test('a field edited in Redis: fails naming the record', () => {
  const saved = entries();
  const edited = structuredClone(saved);
  const target = edited[3];
  // The record is packed in field r ("v1" then <len>:<value> per field): an
  // attacker edits an address and keeps the lengths right.
  target.fields = target.fields.map(([n, v]) => [n, n === 'r' ? v.replace(/u\d@example\.com/, 'x0@example.com') : v]);
  assert.notDeepEqual(target.fields, saved[3].fields, 'the edit changed something');
  rewrite(edited);
  const r = verify();
  assert.equal(r.code, 1);
  assert.ok(r.stdout.includes(target.id), r.stdout);
  assert.match(r.stdout, /modified or forged/);
  rewrite(saved);
  assert.equal(verify().code, 0, 'restored');
});

test('a record deleted: fails naming the gap', () => {
  const saved = entries();
  w.redis.cli('XDEL', 'sc:log', saved[2].id);
  const r = verify();
  assert.equal(r.code, 1);
  assert.match(r.stdout, /deleted/);
  rewrite(saved); // DEL + re-add resets the stream's deletion counters
  assert.equal(verify().code, 0, 'restored');
});

test('a record deleted and the stream rebuilt without it: the chain gap names it', () => {
  const saved = entries();
  rewrite(saved.filter((_, i) => i !== 4));
  const r = verify();
  assert.equal(r.code, 1);
  assert.match(r.stdout, /records 5 to 5 of writer \S+ \(between \S+ and \S+\) are missing: deleted/);
  rewrite(saved);
});

test('a forged record inserted: fails naming it', () => {
  const saved = entries();
  const forged = structuredClone(saved[1]);
  forged.fields = forged.fields.map(([n, v]) => [n, n === 'r' ? v.replace(/u\d@example\.com/, 'c0@example.com').replace(/req_\w{8}/, 'req_FORGED00') : v]);
  const id = w.redis.raw('XADD', 'sc:log', '*', ...forged.fields.flat()).trim();
  const r = verify();
  assert.equal(r.code, 1);
  assert.ok(r.stdout.includes(id), r.stdout);
  w.redis.cli('XDEL', 'sc:log', id);
  rewrite(saved);
});

test('a copy of a real record inserted: fails (same seq twice)', () => {
  const saved = entries();
  const copy = saved[1];
  w.redis.cli('XADD', 'sc:log', '*', ...copy.fields.flat());
  const r = verify();
  assert.equal(r.code, 1);
  assert.match(r.stdout, /share seq 2: one was inserted/);
  rewrite(saved);
  assert.equal(verify().code, 0);
});

test('a record without a chain inserted: fails', () => {
  const id = w.redis.raw('XADD', 'sc:log', '*', 'time', '1', 'decision', 'allowed').trim();
  const r = verify();
  assert.equal(r.code, 1);
  assert.ok(r.stdout.includes(id), r.stdout);
  assert.match(r.stdout, /not a sendcap record/);
});
