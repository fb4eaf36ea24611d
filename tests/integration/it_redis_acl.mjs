// deploy/redis/redis.conf with the ACL of deploy/redis/users.acl.example:
// sendcap works end to end as the restricted user (AUTH user:password in the
// URL), and the user cannot run what sendcap does not need.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { World } from '../lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const w = new World();
before(async () => {
  const acl = readFileSync(path.join(root, 'deploy/redis/users.acl.example'), 'utf8')
    .replace('>CHANGE_ME', '>s3cret-test-pw')
    // an admin for the test's own inspection; production has none
    + 'user admin on >admin-pw ~* &* +@all\n';
  writeFileSync(path.join(w.dir, 'users.acl'), acl);
  await w.start({
    redis: {
      conf: path.join(root, 'deploy/redis/redis.conf'),
      args: ['--aclfile', path.join(w.dir, 'users.acl'), '--maxmemory', '256mb'],
      auth: { user: 'sendcap', password: 's3cret-test-pw' },
      admin: { user: 'admin', password: 'admin-pw' },
    },
  });
});
after(async () => { await w.stop(); });

test('the whole path works as the restricted user', async () => {
  assert.match(w.redis.url, /^redis:\/\/sendcap:s3cret-test-pw@/);
  const k = w.issue(['--daily-cap', '2', '--agent-run-id', 'acl-run']);
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };
  const sent = await w.call(k.key, 'POST', '/emails', email);
  assert.equal(sent.status, 200, sent.text);
  assert.equal((await w.call(k.key, 'GET', `/emails/${sent.json.id}`)).status, 200);
  assert.equal((await w.call(k.key, 'POST', '/emails', { ...email, to: ['a@example.com', 'b@example.com'] })).status, 429);
  assert.equal(w.cli(['key', 'revoke', k.id]).code, 0);
  assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 403);
  for (const args of [['key', 'list', '--all'], ['key', 'show', k.id], ['upstream', 'list'],
    ['log', 'query', '--agent-run-id', 'acl-run'], ['log', 'verify']]) {
    const r = w.cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const rows = await w.waitForLog(4, ['--agent-run-id', 'acl-run']);
  assert.equal(rows.length, 4, 'send, read, cap, revoked');
  assert.ok(!w.proxy.log.includes('s3cret-test-pw'), 'the Redis password is not logged');
});

test('every SPEC §5 control works as the restricted user', async () => {
  const k = w.issue(['--monthly-cap', '10', '--per-recipient-cap', '2', '--rate', '100/m',
    '--dedupe-window', '1m', '--agent-run-id', 'acl-controls']);
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 'controls', text: 't' };
  const first = await w.call(k.key, 'POST', '/emails', email);
  assert.equal(first.status, 200, first.text);
  assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 409, 'dedupe');
  assert.equal((await w.call(k.key, 'POST', '/emails', { ...email, subject: 'again' })).status, 200);
  assert.equal((await w.call(k.key, 'POST', '/emails', { ...email, subject: 'third' })).status, 429, 'per recipient');
  assert.equal((await w.call(k.key, 'GET', '/sendcap/v1/whoami')).status, 200);
  assert.equal(w.cli(['key', 'update', k.id, '--rate', '1/h']).code, 0);
  assert.equal((await w.call(k.key, 'GET', '/sendcap/v1/whoami')).status, 429, 'rate');
  for (const args of [['key', 'list'], ['key', 'show', k.id]]) {
    const r = w.cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('the sendcap user cannot do more', () => {
  const as = (...args) => w.redis.cli('--user', 'sendcap', '--pass', 's3cret-test-pw', '--no-auth-warning', ...args);
  assert.match(as('FLUSHALL').stdout, /NOPERM/);
  assert.match(as('CONFIG', 'GET', 'dir').stdout, /NOPERM/);
  assert.match(as('GET', 'not-ours').stdout, /NOPERM/);
  assert.match(as('KEYS', '*').stdout, /NOPERM/);
  assert.match(w.redis.cli('--user', 'default', '--pass', 'x', '--no-auth-warning', 'PING').stdout, /WRONGPASS|NOAUTH|disabled/i);
});
