// deploy/bash-completion/sendcap, sourced in a real bash (with the
// bash-completion package's helpers where installed, as an interactive shell
// has them): commands, subcommands and flags come from the binary's --help;
// key ids and upstream names from the store through the --json listings,
// with the Redis settings typed on the line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { World, SENDCAP } from '../lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'deploy/bash-completion/sendcap');
const helpers = '/usr/share/bash-completion/bash_completion';

// Complete each line (cursor at its end) as bash does on TAB; one array of
// candidates per line, sorted.
function complete(lines, env = {}, { bashCompletion = true } = {}) {
  const prog = `
    ${bashCompletion && existsSync(helpers) ? `. ${helpers}` : ''}
    . "$SCRIPT"
    while IFS= read -r line; do
      COMP_LINE=$line COMP_POINT=\${#line}
      read -ra COMP_WORDS <<<"$line"
      [[ $line == *' ' ]] && COMP_WORDS+=('')
      COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
      COMPREPLY=()
      _sendcap sendcap "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
      printf '%s\\n' "\${COMPREPLY[@]}" | sort | paste -sd' '
    done`;
  const r = spawnSync('bash', ['-c', prog], {
    input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 60000,
    env: { PATH: `${path.dirname(SENDCAP)}:${process.env.PATH}`, SCRIPT: script, HOME: process.env.HOME ?? '/tmp', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'completion prints nothing on stderr');
  const out = r.stdout.split('\n').slice(0, lines.length);
  return out.map((l) => (l === '' ? [] : l.split(' ')));
}

const w = new World();
let live, revoked;
before(async () => {
  await w.start({ proxies: 0 });
  assert.equal(w.cli(['upstream', 'add', 'staging'], { input: 're_staging_key_1\n' }).code, 0);
  const r = w.cli(['key', 'issue', '--upstream', 'staging', '--json']);
  assert.equal(r.code, 0, r.stderr);
  live = [w.issue().id, JSON.parse(r.stdout).id];
  revoked = w.issue().id;
  assert.equal(w.cli(['key', 'revoke', revoked]).code, 0);
});
after(async () => { await w.stop(); });

test('commands, subcommands and flags from --help', () => {
  const [top, k, key, keyList, update, tail, red, scope, fmt, none] = complete([
    'sendcap ', 'sendcap k', 'sendcap key ', 'sendcap key list --', 'sendcap key update key_x --cl',
    'sendcap log tail --a', 'sendcap key list --red', 'sendcap key issue --scope ', 'sendcap log query --format j',
    'sendcap key show key_x ',
  ]);
  for (const c of ['init', 'upstream', 'key', 'log']) assert.ok(top.includes(c), `${c} in ${top}`);
  assert.deepEqual(k, ['key']);
  assert.deepEqual(key, ['issue', 'list', 'revoke', 'rotate', 'show', 'update']);
  assert.deepEqual(keyList, ['--all', '--help', '--json']);
  assert.deepEqual(update, ['--clear-from-domains', '--clear-to-domains']);
  assert.deepEqual(tail, ['--agent-run-id'], 'log tail takes the query filters');
  assert.deepEqual(red, ['--redis', '--redis-master', '--redis-sentinels'], 'settings when no own flag fits');
  assert.deepEqual(scope, ['full', 'sending']);
  assert.deepEqual(fmt, ['json']);
  assert.deepEqual(none, [], 'one KEY_ID only');
});

test('key ids and upstream names from the store', () => {
  const [show, revoke, byKey, upstream, rotate, prefix] = complete([
    'sendcap key show ', 'sendcap key revoke ', 'sendcap log query --key ', 'sendcap key issue --upstream ',
    'sendcap upstream rotate st', `sendcap key rotate ${live[1].slice(0, -2)}`,
  ], { SENDCAP_REDIS_URL: w.env.SENDCAP_REDIS_URL });
  assert.deepEqual(show, [...live, revoked].sort(), 'show offers revoked keys too');
  assert.deepEqual(revoke, [...live].sort(), 'revoke offers live keys only');
  assert.deepEqual(byKey, [...live, revoked].sort());
  assert.deepEqual(upstream, ['prod', 'staging']);
  assert.deepEqual(rotate, ['staging']);
  assert.deepEqual(prefix, [live[1]]);
});

test('the Redis settings on the line are used; without bash-completion too', () => {
  const url = w.env.SENDCAP_REDIS_URL;
  for (const bashCompletion of [true, false]) {
    const [onLine, down] = complete([`sendcap --redis ${url} upstream remove `, 'sendcap --redis redis://127.0.0.1:1/0 key show '],
      {}, { bashCompletion });
    assert.deepEqual(onLine, ['prod', 'staging'], `bash-completion helpers: ${bashCompletion}`);
    assert.deepEqual(down, [], 'Redis unreachable: nothing, quietly');
  }
});

test('held ids: the hook answers nothing until `approval list --json` exists', () => {
  const [held] = complete(['sendcap approval show '], { SENDCAP_REDIS_URL: w.env.SENDCAP_REDIS_URL });
  assert.deepEqual(held, []);
});
