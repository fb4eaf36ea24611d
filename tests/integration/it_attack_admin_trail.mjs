// An attacker with write access to Redis (but not the master key) edits the
// admin trail: `sendcap log verify` exits 1 naming the record after each of
// editing a record, deleting one from the middle, reordering two, and
// cutting the newest off; it passes on the untouched trail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
let k;
before(async () => {
  await w.start();
  k = w.issue(['--daily-cap', '5']);
  for (const cap of ['6', '7', '8']) assert.equal(w.cli(['key', 'update', k.id, '--daily-cap', cap]).code, 0);
});
after(async () => { await w.stop(); });

// The trail as [{id, fields: [[name, value], ...]}] from redis-cli's raw
// output (no admin field value holds a newline).
function entries() {
  const ids = w.redis.raw('XRANGE', 'sc:admin', '-', '+').split('\n').filter((l) => /^\d{13}-\d+$/.test(l));
  return ids.map((id) => {
    const lines = w.redis.raw('XRANGE', 'sc:admin', id, id).split('\n');
    lines.shift();
    const f = [];
    for (let i = 0; i + 1 < lines.length; i += 2) f.push([lines[i], lines[i + 1]]);
    return { id, fields: f.filter(([n]) => n !== '') };
  });
}

// Rewrite the whole stream (an entry cannot be edited in place); ids kept
// unless keepIds is false.
function rewrite(list, keepIds = true) {
  w.redis.cli('DEL', 'sc:admin');
  for (const e of list) {
    const args = ['XADD', 'sc:admin', keepIds ? e.id : '*'];
    for (const [n, v] of e.fields) args.push(n, v);
    const r = w.redis.cli(...args);
    assert.equal(r.status, 0, r.stderr);
  }
}

const verify = () => w.cli(['log', 'verify']);
let saved;

test('untouched: passes', () => {
  saved = entries();
  assert.equal(saved.length, 5); // upstream add, key issue, three updates
  const r = verify();
  assert.equal(r.code, 0, r.stdout);
  assert.doesNotMatch(r.stdout, /FAILED/);
});

test('a record edited in Redis: exit 1 naming it', () => {
  const edited = structuredClone(saved);
  const target = edited[3];
  const ch = target.fields.find(([n]) => n === 'changes');
  assert.match(ch[1], /"new":7/);
  ch[1] = ch[1].replace('"new":7', '"new":700');
  rewrite(edited);
  const r = verify();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`admin record ${target.id} \\(seq 4, key.update ${k.id}\\) does not match its MAC`));
  // The actor too.
  const again = structuredClone(saved);
  again[2].fields.find(([n]) => n === 'actor')[1] = 'someone-else';
  rewrite(again);
  assert.match(verify().stdout, new RegExp(`admin record ${again[2].id} .*does not match its MAC`));
  rewrite(saved);
  assert.equal(verify().code, 0);
});

test('a record deleted from the middle: exit 1 naming where', () => {
  rewrite(saved.filter((_, i) => i !== 2));
  const r = verify();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`admin records 3 to 3 \\(before ${saved[3].id}\\) are missing`));
  rewrite(saved);
  // XDEL leaves a trace of its own, even of the newest.
  w.redis.cli('XDEL', 'sc:admin', saved[4].id);
  const t = verify();
  assert.equal(t.code, 1, t.stdout);
  assert.match(t.stdout, new RegExp(`admin records 5 to 5, after the newest left \\(${saved[3].id}\\), are missing`));
  rewrite(saved);
});

test('two records reordered: exit 1 naming the one out of place', () => {
  const swapped = [saved[0], saved[1], saved[3], saved[2], saved[4]];
  rewrite(swapped, false);
  const r = verify();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /admin record \d{13}-\d+ \(seq 3\) comes after seq 4/);
  rewrite(saved);
  assert.equal(verify().code, 0);
});

test('a forged record appended: exit 1', () => {
  const fake = structuredClone(saved[4]);
  fake.fields.find(([n]) => n === 'seq')[1] = '6';
  rewrite([...saved, fake], false);
  const r = verify();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /does not match its MAC/);
  rewrite(saved);
});
