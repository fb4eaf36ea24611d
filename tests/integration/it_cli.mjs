// The sendcap CLI as SPEC §2 names it: help, exit codes, keys from stdin or
// the environment only, JSON output, upstream removal rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

test('--help everywhere, exit 0; bad usage exits 2 with one line', () => {
  for (const args of [['--help'], ['key', '--help'], ['upstream', '--help'], ['init', '--help'], ['key', 'issue', '--help']]) {
    const r = w.cli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /usage: sendcap/);
  }
  for (const args of [[], ['bogus'], ['key'], ['key', 'issue'], ['key', 'issue', '--upstream', 'prod', '--daily-cap', 'x'],
    ['key', 'issue', '--upstream', 'prod', '--from-domain', 'not a domain'], ['key', 'issue', '--upstream', 'prod', '--scope', 'root'],
    ['--max-body', 'lots', 'key', 'list'], ['upstream', 'add']]) {
    const r = w.cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sendcap: /);
  }
});

test('unreachable Redis: exit 1, one clear line', () => {
  const r = w.cli(['--redis', 'redis://127.0.0.1:1/0', 'key', 'list']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^sendcap: cannot reach redis at 127\.0\.0\.1:1/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('init: 0600 file, idempotent, needs a path', () => {
  const st = statSync(w.env.SENDCAP_MASTER_KEY_FILE);
  assert.equal(st.mode & 0o777, 0o600);
  const again = w.cli(['init']);
  assert.equal(again.code, 0);
  assert.match(again.stderr, /already exists/);
  const none = w.cli(['init'], { env: { SENDCAP_MASTER_KEY_FILE: '' } });
  assert.equal(none.code, 2);
  const fresh = path.join(w.dir, 'sub', 'dir', 'mk');
  const made = w.cli(['--master-key-file', fresh, 'init']);
  assert.equal(made.code, 0);
  assert.equal(made.stdout.trim(), fresh);
  assert.equal(statSync(path.dirname(fresh)).mode & 0o777, 0o700);
});

test('upstream add: key from stdin or --from-env only; duplicates refused', () => {
  assert.equal(w.cli(['upstream', 'add', 'envkey', '--from-env', 'MYKEY'], { env: { MYKEY: 're_fromenv_1111' } }).code, 0);
  assert.equal(w.cli(['upstream', 'add', 'envkey2', '--from-env', 'UNSET_VAR']).code, 2);
  assert.equal(w.cli(['upstream', 'add', 'empty'], { input: '\n' }).code, 2);
  assert.equal(w.cli(['upstream', 'add', 'bad name!'], { input: 're_x\n' }).code, 2);
  const dup = w.cli(['upstream', 'add', 'envkey'], { input: 're_other_2222\n' });
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already exists/);
  // There is no way to pass the key in argv: an extra argument is refused.
  assert.equal(w.cli(['upstream', 'add', 'argv', 're_in_argv_3333']).code, 2);
  const list = w.cli(['upstream', 'list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(list.map((u) => u.name), ['envkey', 'prod']);
  assert.equal(list[0].fingerprint, 're_…1111');
  const table = w.cli(['upstream', 'list']).stdout.split('\n');
  assert.match(table[0], /^NAME\s+KEY\s+CREATED\s+ROTATED\s+VAULT KEYS$/);
});

test('a different master key cannot add to this Redis', () => {
  const other = path.join(w.dir, 'other.key');
  assert.equal(w.cli(['--master-key-file', other, 'init']).code, 0);
  const r = w.cli(['--master-key-file', other, 'upstream', 'add', 'x'], { input: 're_abc_1234\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /master key is not the one/);
});

test('key issue/list/show: JSON shapes and the policy stored', () => {
  const k = w.issue(['--name', 'bot', '--owner', 'ops@example.com', '--daily-cap', '100', '--from-domain', 'Example.com',
    '--to-domain', '*.corp.example', '--to-domain', 'partner.io', '--agent-run-id', 'run-7', '--expires-in', '7d']);
  assert.match(k.id, /^key_[0-9A-Za-z]{16}$/);
  assert.match(k.key, /^vk_[0-9A-Za-z]{43,}$/);
  assert.deepEqual(k.from_domains, ['example.com']);
  assert.deepEqual(k.to_domains, ['*.corp.example', 'partner.io']);
  assert.equal(k.daily_cap, 100);
  assert.equal(k.scope, 'sending');
  assert.equal(k.agent_run_id, 'run-7');
  const shown = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(shown.key, undefined, 'show never prints the vault key');
  assert.equal(shown.owner, 'ops@example.com');
  const text = w.cli(['key', 'show', k.id]).stdout;
  assert.ok(!text.includes(k.key));
  assert.match(text, /daily cap:\s+100/);
  const lines = w.cli(['key', 'list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.id === k.id && l.stale === false && l.status === 'active'));
  assert.ok(!w.cli(['key', 'list']).stdout.includes(k.key));
  assert.equal(w.cli(['key', 'show', 'key_nope']).code, 3);
  assert.equal(w.cli(['key', 'issue', '--upstream', 'nope']).code, 3);
  // Only the SHA-256 of the key is stored.
  assert.equal(w.redis.raw('KEYS', '*').includes(k.key.slice(3)), false);
});

test('upstream remove: refused while keys use it; --force revokes them', () => {
  const k = w.issue();
  const r = w.cli(['upstream', 'remove', 'prod']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /used by \d+ vault key/);
  const f = w.cli(['upstream', 'remove', 'prod', '--force']);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /revoked \d+ vault key/);
  assert.equal(JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout).status, 'revoked');
  assert.equal(w.cli(['upstream', 'remove', 'prod']).code, 3);
  assert.equal(w.cli(['upstream', 'remove', 'envkey']).code, 0);
});
