// The sweep for time-based events (SPEC §6): key.expiring (30/14/7/1 days,
// the tightest threshold only), key.expired, key.stale (unused 30 days) and
// key.rotation_due (--rotate-after), each once per key and threshold, with
// two sendcapd sweeping every second, and when the sweep lease moves to the
// other instance in the middle of a sweep.  Events are read from the
// sc:events stream itself (XRANGE), not from a webhook receiver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SWEEP_TYPES = new Set(['key.expiring', 'key.expired', 'key.stale', 'key.rotation_due']);
const DAY = 86400000;

// Every event of the stream: {id, type, key, family, at, data}.  redis-cli
// --raw prints an entry as its id and then field, value lines; sc_emit
// always writes the same five fields (a JSON value never has a newline).
function events(w) {
  const lines = w.redis.raw('XRANGE', 'sc:events', '-', '+').split('\n');
  const out = [];
  for (let i = 0; i + 10 < lines.length; i += 11) {
    const e = { id: lines[i] };
    for (let f = 1; f < 11; f += 2) e[lines[i + f]] = lines[i + f + 1];
    e.data = JSON.parse(e.data);
    out.push(e);
  }
  return out;
}

const sweepEvents = (w) => events(w).filter((e) => SWEEP_TYPES.has(e.type));

function count(evs, type, key) {
  return evs.filter((e) => e.type === type && e.key === key).length;
}

// Poll until pred(sweep events) holds (or fail after ms).
async function waitFor(w, pred, what, ms = 20000) {
  let evs = [];
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) {
    evs = sweepEvents(w);
    if (pred(evs)) return evs;
  }
  throw new Error(`${what}: not reached; events: ${JSON.stringify(evs.map((e) => [e.type, e.key, e.data]))}`);
}

function hashOf(w, id) {
  return w.redis.raw('GET', `sc:id:${id}`).trim();
}

function redisNow(w) {
  const [s, us] = w.redis.raw('TIME').trim().split('\n');
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

// The pid in the lease's token "<host>:<pid>:<random>", or null.
function leasePid(w) {
  const t = w.redis.raw('GET', 'sc:lease:sweep').trim();
  return t ? Number(t.split(':')[1]) : null;
}

test('--rotate-after: default 90d, a duration, none; shown and updated', async () => {
  const w = new World();
  try {
    await w.start({ proxies: 0 });
    const d = w.issue();
    assert.equal(d.rotate_after, '90d');
    assert.equal(w.redis.raw('HEXISTS', `sc:vk:${hashOf(w, d.id)}`, 'rotate_after_ms').trim(), '0',
      'the default is not written into the record');
    const k = w.issue(['--rotate-after', '30d']);
    assert.equal(k.rotate_after, '30d');
    const off = w.issue(['--rotate-after', 'none']);
    assert.equal(off.rotate_after, null);
    for (const bad of ['0', '-1d', 'soon', '3651d']) {
      const r = w.cli(['key', 'issue', '--upstream', 'prod', '--rotate-after', bad]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--rotate-after/);
    }
    const u = w.cli(['key', 'update', k.id, '--rotate-after', 'none', '--json']);
    assert.equal(u.code, 0, u.stderr);
    const uj = JSON.parse(u.stdout);
    assert.equal(uj.rotate_after, null);
    assert.deepEqual(uj.changed.rotate_after, { old: '30d', new: null });
    const show = w.cli(['key', 'show', k.id]);
    assert.match(show.stdout, /rotate after:\s+none/);
    assert.match(w.cli(['key', 'show', d.id]).stdout, /rotate after:\s+90d/);
    const upd = events(w).filter((e) => e.type === 'key.updated' && e.key === k.id);
    assert.equal(upd.length, 1);
    assert.deepEqual(upd[0].data.changed.rotate_after_ms, { old: String(30 * DAY), new: '0' });
  } finally {
    await w.stop();
  }
});

test('two instances sweep: each event once per key and threshold', async () => {
  const w = new World();
  try {
    await w.start({ proxies: 0 });
    const now = redisNow(w);
    const in20d = w.issue(['--expires-in', '20d']);
    const in2h = w.issue(['--expires-in', '2h']);
    const stale = w.issue();
    w.redis.cli('HSET', `sc:vk:${hashOf(w, stale.id)}`, 'last_used_at', String(now - 31 * DAY));
    const rot = w.issue(['--rotate-after', '1m']);
    w.redis.cli('HSET', `sc:vk:${hashOf(w, rot.id)}`, 'created_at', String(now - 2 * 60000));
    const soon = w.issue(['--expires-in', '3s']);
    const quiet = w.issue(['--expires-in', '60d']);
    // Keys whose owners already acted: revoked, and rotated away.
    const revoked = w.issue(['--expires-in', '2h']);
    assert.equal(w.cli(['key', 'revoke', revoked.id]).code, 0);
    const old = w.issue(['--expires-in', '2h', '--rotate-after', '1m']);
    w.redis.cli('HSET', `sc:vk:${hashOf(w, old.id)}`, 'last_used_at', String(now - 40 * DAY));
    const rr = w.cli(['key', 'rotate', old.id, '--grace', '1h', '--json']);
    assert.equal(rr.code, 0, rr.stderr);
    const rotatedTo = JSON.parse(rr.stdout).id;

    await w.addProxy(['--sweep-interval', '1s']);
    await w.addProxy(['--sweep-interval', '1s']);
    const holders = new Set();
    const want = (evs) => count(evs, 'key.expiring', in20d.id) >= 1 && count(evs, 'key.expiring', in2h.id) >= 1 &&
      count(evs, 'key.stale', stale.id) >= 1 && count(evs, 'key.rotation_due', rot.id) >= 1 &&
      count(evs, 'key.expired', soon.id) >= 1;
    await waitFor(w, want, 'the first events');
    // Several more intervals with both instances ticking.
    for (let i = 0; i < 25; i++) {
      const p = leasePid(w);
      if (p) holders.add(p);
      await sleep(200);
    }
    const evs = sweepEvents(w);
    const pids = new Set(w.proxies.map((p) => p.proc.pid));
    for (const p of holders) assert.ok(pids.has(p), `the lease names one of the instances (${p})`);

    // The tightest threshold only: 20 days is inside 30, 2 hours inside 1.
    const exp20 = evs.filter((e) => e.type === 'key.expiring' && e.key === in20d.id);
    assert.equal(exp20.length, 1);
    assert.equal(exp20[0].data.days, 30);
    const exp20At = Number(w.redis.raw('HGET', `sc:vk:${hashOf(w, in20d.id)}`, 'expires_at').trim());
    assert.equal(exp20[0].data.expires_at, new Date(exp20At).toISOString());
    const exp2h = evs.filter((e) => e.type === 'key.expiring' && e.key === in2h.id);
    assert.equal(exp2h.length, 1);
    assert.equal(exp2h[0].data.days, 1);
    assert.equal(count(evs, 'key.stale', stale.id), 1);
    const st = evs.find((e) => e.type === 'key.stale' && e.key === stale.id);
    assert.equal(st.data.unused_days, 31);
    assert.equal(count(evs, 'key.rotation_due', rot.id), 1);
    assert.equal(evs.find((e) => e.type === 'key.rotation_due').data.rotate_after_ms, 60000);
    assert.equal(count(evs, 'key.expired', soon.id), 1);
    assert.ok(count(evs, 'key.expiring', soon.id) <= 1);
    // Nothing else: no stale or rotation for fresh keys, nothing for the
    // quiet, revoked and rotated-away keys, nothing for an expired key but
    // its expiry.
    for (const k of [in20d, in2h, stale, rot, soon]) {
      for (const t of ['key.stale', 'key.rotation_due']) {
        if ((k === stale && t === 'key.stale') || (k === rot && t === 'key.rotation_due')) continue;
        assert.equal(count(evs, t, k.id), 0, `${t} ${k.id}`);
      }
    }
    for (const [what, id] of [['quiet', quiet.id], ['revoked', revoked.id], ['rotated away', old.id]]) {
      assert.equal(evs.filter((e) => e.key === id).length, 0, `no sweep event for the ${what} key`);
    }
    // The key it was rotated to inherits the expiry (not the age).
    assert.deepEqual(evs.filter((e) => e.key === rotatedTo).map((e) => [e.type, e.data.days]), [['key.expiring', 1]]);
    for (const e of evs) {
      assert.equal(e.data.key_id, e.key);
      assert.ok(!JSON.stringify(e).includes('vk_'), 'no vault key in an event');
    }

    // Markers re-arm: a new expiry fires key.expiring again; a key used
    // and then unused for 30 days again fires key.stale again.
    assert.equal(w.cli(['key', 'update', in2h.id, '--expires-in', '3h']).code, 0);
    w.redis.cli('HSET', `sc:vk:${hashOf(w, stale.id)}`, 'last_used_at', String(now - 35 * DAY));
    await waitFor(w, (e) => count(e, 'key.expiring', in2h.id) >= 2 && count(e, 'key.stale', stale.id) >= 2,
      'the re-armed events');
    await sleep(2500);
    const after = sweepEvents(w);
    assert.equal(count(after, 'key.expiring', in2h.id), 2);
    assert.equal(count(after, 'key.stale', stale.id), 2);
    assert.equal(count(after, 'key.expiring', in20d.id), 1);
    assert.equal(count(after, 'key.rotation_due', rot.id), 1);
    assert.equal(count(after, 'key.expired', soon.id), 1);
  } finally {
    await w.stop();
  }
});

test('the lease moves mid-sweep: the new holder starts over, nothing fires twice', async () => {
  const w = new World();
  let stopped = null;
  try {
    await w.start({ proxies: 0 });
    const N = 60;
    const ids = [];
    for (let i = 0; i < N; i++) ids.push(w.issue(['--expires-in', '2h']).id);
    // One key per script: a sweep of N keys takes N batches and their gaps,
    // long enough to stop its holder in the middle.
    const args = ['--sweep-interval', '1s', '--sweep-batch', '1'];
    await w.addProxy(args);
    await w.addProxy(args);
    await waitFor(w, (e) => e.length >= 1, 'the first sweep event', 10000);
    const pid = leasePid(w);
    stopped = w.proxies.find((p) => p.proc.pid === pid);
    assert.ok(stopped, `the lease names an instance (${pid})`);
    process.kill(pid, 'SIGSTOP');
    const atStop = sweepEvents(w).length;
    assert.ok(atStop > 0 && atStop < N, `stopped mid-sweep (${atStop} of ${N} events)`);

    // Its lease runs out; the other instance takes it and sweeps all keys.
    await waitFor(w, (e) => new Set(e.map((x) => x.key)).size === N, 'every key swept by the other instance');
    const other = w.proxies.find((p) => p !== stopped);
    assert.equal(leasePid(w) ?? other.proc.pid, other.proc.pid, 'the lease moved');
    process.kill(pid, 'SIGCONT');
    stopped = null;
    // The first holder's next batch finds the lease gone and stops.
    for (let i = 0; i < 100 && !/lease moved to another instance/.test(w.proxies.find((p) => p.proc.pid === pid).log); i++) await sleep(50);
    assert.match(w.proxies.find((p) => p.proc.pid === pid).log, /sweep: the lease moved to another instance/);
    await sleep(2500);
    const evs = sweepEvents(w);
    for (const id of ids) assert.equal(count(evs, 'key.expiring', id), 1, id);
    assert.equal(evs.length, N);
  } finally {
    if (stopped) process.kill(stopped.proc.pid, 'SIGCONT');
    await w.stop();
  }
});
