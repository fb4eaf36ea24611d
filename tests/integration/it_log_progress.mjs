// Progress of long call-log reads (issue #16 item 8): `log verify` and
// `log query` draw a progress line on stderr only when stderr is a terminal
// (here a pty from script(1), util-linux), erase it before results, and
// print nothing extra when stderr is a pipe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { World, SENDCAP } from '../lib/harness.mjs';

const w = new World();
let k;
before(async () => {
  await w.start();
  k = w.issue();
  for (let i = 0; i < 12; i++) await w.call(k.key, 'GET', `/emails/e${i}`);
  await w.waitForLog(12);
});
after(async () => { await w.stop(); });

test('not a terminal: stderr stays empty, stdout as before', () => {
  const v = w.cli(['log', 'verify']);
  assert.equal(v.code, 0);
  assert.equal(v.stderr, '');
  assert.equal(v.stdout, 'verified 12 records from 1 writers: every chain is intact\n');
  for (const args of [['--key', k.id], []]) {
    const q = w.cli(['log', 'query', ...args, '--format', 'json']);
    assert.equal(q.stderr, '');
    assert.equal(q.stdout.trim().split('\n').length, 12);
  }
});

// script -qec CMD /dev/null runs CMD on a pty (stdin, stdout, stderr) and
// copies what it writes to its own stdout.
const onTty = (args) => {
  const cmd = [SENDCAP, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...w.env, TERM: 'dumb' }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout };
};

test('on a terminal: records, rate and time left, then the line is erased', () => {
  const v = onTty(['log', 'verify']);
  assert.equal(v.code, 0, v.out);
  // the verify reads the stream in one page of 12 of its 12 records
  assert.match(v.out, /\r\x1b\[Kverifying the call log: 12 of 12 records(, \d+\/s, about 0s left)?\r\x1b\[Kverified 12 records/);
  const q = onTty(['log', 'query', '--key', k.id, '--format', 'json']);
  assert.equal(q.code, 0, q.out);
  assert.ok(/^\r\x1b\[Kreading the call log: 12 of 12 records(, \d+\/s, about 0s left)?\r\x1b\[K\{/.test(q.out),
    JSON.stringify(q.out.slice(0, 120)));
  assert.equal(q.out.split('\n').filter((l) => l.includes('"request_id"')).length, 12);
});
