// The sendcap CLI under an admin's slips and a script's surprises: a flag
// given twice, a time at the epoch, a wildcard over a public suffix.  Each
// is refused with exit 2 and one line, or answered exactly; none is
// silently read another way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

function usage(args, pattern) {
  const before = w.cli(['key', 'list', '--json', '--all']).stdout;
  const r = w.cli(args);
  assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /^sendcap: /);
  if (pattern) assert.match(r.stderr, pattern);
  assert.equal(w.cli(['key', 'list', '--json', '--all']).stdout, before, 'nothing was issued');
  return r;
}

// Issue #10 item 12: a repeated --daily-cap kept the last value silently.
test('a single-valued flag given twice -> exit 2 naming it', () => {
  const issue = ['key', 'issue', '--upstream', 'prod'];
  usage([...issue, '--daily-cap', '5', '--daily-cap', '500'], /--daily-cap/);
  for (const [flag, a, b] of [['--name', 'a', 'b'], ['--owner', 'a@example.com', 'b@example.com'],
    ['--agent-run-id', 'r1', 'r2'], ['--scope', 'sending', 'full'], ['--expires-in', '1d', '7d'],
    ['--expires-at', '2099-01-01T00:00:00Z', '2098-01-01T00:00:00Z']]) {
    usage([...issue, flag, a, flag, b], new RegExp(flag));
  }
  usage(['key', 'issue', '--upstream', 'prod', '--upstream', 'prod'], /--upstream/);
  usage([...issue, '--redis', w.env.SENDCAP_REDIS_URL, '--redis', 'redis://127.0.0.1:1/0'], /--redis/);
  usage([...issue, '--redis=redis://127.0.0.1:1/0', '--redis', w.env.SENDCAP_REDIS_URL], /--redis/);
  const k = w.issue(['--daily-cap', '5']);
  usage(['key', 'rotate', k.id, '--grace', '1h', '--grace', '1d'], /--grace/);
  for (const [flag, a, b] of [['--key', k.id, 'key_x'], ['--agent-run-id', 'a', 'b'], ['--since', '1h', '2h'],
    ['--until', '1h', '2h'], ['--decision', 'allowed', 'denied'], ['--limit', '1', '2'], ['--format', 'json', 'csv']]) {
    usage(['log', 'query', flag, a, flag, b], new RegExp(flag));
  }
  usage(['log', 'verify', '--since', '1h', '--since', '2h'], /--since/);
  usage(['upstream', 'add', 'other', '--from-env', 'A', '--from-env', 'B'], /--from-env/);
  // Repeatable lists stay repeatable.
  const ok = w.cli([...issue, '--json', '--to-domain', 'example.com', '--to-domain', 'example.org', '--daily-cap', '5']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).daily_cap, 5);
});

// Issue #10 item 12: an --until at the epoch read as "no --until" and
// returned every row; --since at the epoch must still mean "everything".
test('log query --until/--since at and before the epoch', async () => {
  await w.addProxy();
  const k = w.issue();
  const res = await w.call(k.key, 'GET', '/emails/e_1');
  assert.ok(res.status >= 400);
  const all = await w.waitForLog(1, ['--key', k.id]);
  const rows = (args) => {
    const r = w.cli(['log', 'query', '--key', k.id, '--format', 'json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).length;
  };
  assert.equal(rows(['--until', '1970-01-01T00:00:00Z']), 0);
  assert.equal(rows(['--until', '1970-01-01T00:00:00.000Z']), 0);
  assert.equal(rows(['--until', '1970-01-01T00:00:00.001Z']), 0);
  assert.equal(rows(['--until', '1970-01-01T01:00:00+01:00']), 0);
  assert.equal(rows(['--until', '20000d']), 0, 'a duration reaching before the epoch');
  assert.equal(rows(['--until', '1h']), 0);
  assert.equal(rows(['--since', '1970-01-01T00:00:00Z']), all.length);
  assert.equal(rows(['--since', '20000d']), all.length);
  assert.equal(rows(['--since', '1970-01-01T00:00:00Z', '--until', '1970-01-01T00:00:00Z']), 0);
  assert.equal(rows(['--since', '2099-01-01T00:00:00Z']), 0);
  const csv = w.cli(['log', 'query', '--key', k.id, '--format', 'csv', '--until', '1970-01-01T00:00:00Z']);
  assert.equal(csv.stdout.trim().split('\n').length, 1, 'the CSV header only');
});

// Issue #10 item 12: a wildcard over a public suffix is a key for a whole
// registry's customers.  Refused (exit 2) unless --allow-public-suffix; an
// exact rule matches one domain and stays allowed.  No list: fail closed.
test('--to-domain/--from-domain wildcard over a public suffix', () => {
  const issue = ['key', 'issue', '--upstream', 'prod'];
  for (const flag of ['--to-domain', '--from-domain']) {
    for (const rule of ['*.co.uk', '*.CO.UK', '*.github.io', '*.kawasaki.jp', '*.xn--55qx5d.cn', '*.com.cn']) {
      usage([...issue, flag, 'example.com', flag, rule], /public suffix.*--allow-public-suffix/);
    }
    for (const rule of ['*.uk', '*.com']) usage([...issue, flag, rule], /not a domain rule/);
  }
  for (const rule of ['*.example.co.uk', '*.city.kawasaki.jp', '*.corp.example', 'co.uk', '*.example.xn--p1ai']) {
    const r = w.cli([...issue, '--json', '--to-domain', rule]);
    assert.equal(r.code, 0, `${rule}: ${r.stderr}`);
  }
  const r = w.cli([...issue, '--json', '--to-domain', '*.co.uk', '--allow-public-suffix']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).to_domains, ['*.co.uk']);

  const env = { SENDCAP_PUBLIC_SUFFIX_LIST: '/nonexistent/public_suffix_list.dat' };
  const before = w.cli(['key', 'list', '--json', '--all']).stdout;
  const m = w.cli([...issue, '--to-domain', '*.example.co.uk'], { env });
  assert.equal(m.code, 1, m.stderr);
  assert.equal(m.stderr.trim().split('\n').length, 1);
  assert.match(m.stderr, /publicsuffix.*--allow-public-suffix/);
  assert.equal(w.cli(['key', 'list', '--json', '--all']).stdout, before, 'nothing was issued');
  assert.equal(w.cli([...issue, '--to-domain', 'example.co.uk'], { env }).code, 0, 'no wildcard: no list needed');
  assert.equal(w.cli([...issue, '--to-domain', '*.co.uk', '--allow-public-suffix'], { env }).code, 0);
});
