// log_write.lua confirms a settled send's dedupe record ("<request id>" ->
// "<request id>:<email id>") and its idempotency record ("<value>" ->
// "<value>:ok") with one SET XX KEEPTTL GET (issue #15: one command instead
// of a GET and a SET).  Only a record that still holds this send's value
// may change: one another send took over meanwhile (its window expired and
// a new send reserved the same facts or key) is put back as it was, TTL
// included, and an expired record is not brought back.  The script is run
// directly on a real redis-server, so each case is exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis, luaScript } from '../lib/harness.mjs';

const script = luaScript('log_write.lua');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-lwc-'));
const r = new Redis(dir);
before(async () => { await r.start(); });
after(async () => { await r.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

const H = 'a'.repeat(64);
let seq = 0;
// One record block (see the ARGV layout at the top of log_write.lua) that
// settles request `rid`: it kept its reservation, Resend returned em_1.
function write(rid, idemValue) {
  seq++;
  const args = ['w_t', String(seq), '0', '', '', '', '', '1000', '0', '', 'fam', '60', '0',
    'x', 'genesis', 'm',
    'idem:k', idemValue, '1', '', '', '', 'dd:', `${H}:em_1`, rid, ''];
  return r.raw('EVAL', script, '1', 'sc:log', ...args);
}
const ttl = (k) => Number(r.raw('PTTL', k).trim());

test('records still holding this send are confirmed, TTL kept', () => {
  r.raw('SET', `dd:${H}`, 'ridA', 'PX', '60000');
  r.raw('SET', 'idem:k', 'body:ridA', 'PX', '60000');
  write('ridA', 'body:ridA');
  assert.equal(r.raw('GET', `dd:${H}`).trim(), 'ridA:em_1');
  assert.equal(r.raw('GET', 'idem:k').trim(), 'body:ridA:ok');
  assert.ok(ttl(`dd:${H}`) > 50000 && ttl('idem:k') > 50000, 'TTLs kept');
});

test('records another send took over are put back as they were', () => {
  r.raw('SET', `dd:${H}`, 'ridB', 'PX', '60000');
  r.raw('SET', 'idem:k', 'body:ridB', 'PX', '60000');
  write('ridA', 'body:ridA');
  assert.equal(r.raw('GET', `dd:${H}`).trim(), 'ridB', "the later send's dedupe record is untouched");
  assert.equal(r.raw('GET', 'idem:k').trim(), 'body:ridB', "the later send's replay record is untouched");
  assert.ok(ttl(`dd:${H}`) > 50000 && ttl('idem:k') > 50000, 'TTLs kept');
  // and the later send then confirms its own
  write('ridB', 'body:ridB');
  assert.equal(r.raw('GET', `dd:${H}`).trim(), 'ridB:em_1');
  assert.equal(r.raw('GET', 'idem:k').trim(), 'body:ridB:ok');
});

test('an expired record is not brought back', () => {
  r.raw('DEL', `dd:${H}`, 'idem:k');
  write('ridC', 'body:ridC');
  assert.equal(r.raw('EXISTS', `dd:${H}`, 'idem:k').trim(), '0');
});
