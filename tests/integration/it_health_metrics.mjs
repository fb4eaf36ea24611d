// The health and metrics listener: /healthz (alive), /readyz (Redis up,
// scripts loaded), /metrics in the Prometheus text format, with counts that
// match the calls made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const get = async (path) => {
  const r = await fetch(`${w.proxy.metricsUrl}${path}`);
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
};

// A small parser of the text exposition format 0.0.4: every sample line is
// `name{labels} value`, every metric family has HELP and TYPE before its
// samples, histograms have cumulative buckets ending in +Inf == _count.
function parse(text) {
  const families = {};
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m;
    if ((m = line.match(/^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/))) {
      families[m[2]] = { ...(families[m[2]] ?? {}), [m[1]]: m[3] };
      continue;
    }
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.e+]+|\+Inf|NaN)$/);
    assert.ok(m, `not a valid sample line: ${line}`);
    const labels = {};
    for (const l of (m[3] ?? '').split(',').filter(Boolean)) {
      const lm = l.match(/^([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"$/);
      assert.ok(lm, `bad label ${l}`);
      labels[lm[1]] = lm[2];
    }
    const base = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(families[m[1]]?.TYPE || families[base]?.TYPE, `no TYPE for ${m[1]}`);
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  for (const [name, f] of Object.entries(families)) {
    assert.ok(f.HELP && f.TYPE, `family ${name} lacks HELP or TYPE`);
    if (f.TYPE === 'histogram') {
      const b = samples.filter((s) => s.name === `${name}_bucket`);
      const count = samples.find((s) => s.name === `${name}_count`).value;
      for (let i = 1; i < b.length; i++) assert.ok(b[i].value >= b[i - 1].value, `${name} buckets not cumulative`);
      assert.equal(b.at(-1).labels.le, '+Inf');
      assert.equal(b.at(-1).value, count);
    }
  }
  return samples;
}

test('healthz and readyz', async () => {
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.text), { status: 'ok' });
  const r = await get('/readyz');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).redis, 'up');
  assert.equal((await get('/nope')).status, 404);
});

test('metrics count the calls made', async () => {
  const k = w.issue(['--to-domain', 'example.com']);
  const email = varied({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  for (let i = 0; i < 3; i++) assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 200);
  assert.equal((await w.call(k.key, 'POST', '/emails', { ...email, to: 'x@evil.com' })).status, 403);
  assert.equal((await w.call(null, 'GET', '/emails/x')).status, 401);
  w.fake.next({ drop: true });
  assert.equal((await w.call(k.key, 'POST', '/emails', email)).status, 502);
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const s = parse(m.text);
  const req = (labels) => s.find((x) => x.name === 'sendcap_requests_total' &&
    Object.entries(labels).every(([k2, v]) => x.labels[k2] === v))?.value ?? 0;
  assert.equal(req({ route: 'emails.send', decision: 'allowed', reason: 'ok', status: '200' }), 3);
  assert.equal(req({ route: 'emails.send', decision: 'denied', reason: 'to_domain', status: '403' }), 1);
  assert.equal(req({ route: 'emails.get', decision: 'denied', reason: 'missing_key', status: '401' }), 1);
  assert.equal(req({ route: 'emails.send', decision: 'error', reason: 'upstream_error', status: '502' }), 1);
  const total = s.filter((x) => x.name === 'sendcap_requests_total').reduce((a, b) => a + b.value, 0);
  assert.equal(s.find((x) => x.name === 'sendcap_request_duration_seconds_count').value, total);
  assert.equal(s.find((x) => x.name === 'sendcap_upstream_duration_seconds_count').value, 4);
  assert.equal(s.find((x) => x.name === 'sendcap_upstream_errors_total' && x.labels.kind === 'failed_after_send').value, 1);
  assert.equal(s.find((x) => x.name === 'sendcap_redis_up').value, 1);
  assert.equal(s.find((x) => x.name === 'sendcap_inflight_requests').value, 0);
  assert.equal(s.find((x) => x.name === 'sendcap_upstream_inflight').value, 0);
  assert.equal(s.find((x) => x.name === 'sendcap_pending_body_bytes').value, 0);
  assert.ok(!m.text.includes(k.key) && !m.text.includes(w.realKey), 'no secret in metrics');
});

test('readyz and redis_up follow Redis', async () => {
  await w.redis.stop();
  for (let i = 0; i < 100 && (await get('/readyz')).status !== 503; i++) await new Promise((res) => setTimeout(res, 50));
  const r = await get('/readyz');
  assert.equal(r.status, 503);
  assert.equal(JSON.parse(r.text).redis, 'down');
  assert.equal((await get('/healthz')).status, 200, 'still alive');
  const k = 'vk_' + 'Q'.repeat(43);
  assert.equal((await w.call(k, 'POST', '/emails', {})).status, 503);
  const s = parse((await get('/metrics')).text);
  assert.equal(s.find((x) => x.name === 'sendcap_redis_up').value, 0);
  assert.ok(s.find((x) => x.name === 'sendcap_redis_errors_total').value >= 1);
  await w.redis.start();
  for (let i = 0; i < 100 && (await get('/readyz')).status !== 200; i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal((await get('/readyz')).status, 200);
});
