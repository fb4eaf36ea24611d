// `sendcap event list` and `key show`'s recent events (SPEC §6): what
// happened to which key, and per delivery target its state, attempts, next
// attempt or last status, read from the stream and sc:evs:<id>.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, varied } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = () => varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });
const jsonLines = (r) => { assert.equal(r.code, 0, r.stderr); return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)); };

test('event list: a key\'s events oldest first, filters, and each delivery\'s state', async () => {
  const k = w.issue(['--daily-cap', '2', '--alert-at', '50', '--name', 'lister']);
  for (let i = 0; i < 3; i++) await w.call(k.key, 'POST', '/emails', email());
  let evs = jsonLines(w.cli(['event', 'list', '--key', k.id, '--json']));
  assert.deepEqual(evs.map((e) => e.type), ['key.issued', 'key.usage_threshold', 'key.cap_reached']);
  const cap = evs[2];
  assert.equal(cap.key, k.id);
  assert.match(cap.id, /^\d+-\d+$/);
  assert.match(cap.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(cap.data.cap, 2);
  assert.deepEqual(cap.deliveries, [], 'no webhook, no notice: nothing queued');

  // Delivery states as the worker records them (store/events.h's format).
  const at = Number(w.redis.raw('XRANGE', 'sc:events', cap.id, cap.id).split('\n')[8]);
  const next = at + 40000;
  w.redis.raw('HSET', `sc:evs:${cap.id}`, 'wh_test', `pending|3|${next}|503|${at + 20000}|${at}`,
    'notice', `delivered|1|0|200|${at + 100}|${at}`);
  evs = jsonLines(w.cli(['event', 'list', '--key', k.id, '--type', 'key.cap_reached', '--json']));
  assert.equal(evs.length, 1);
  assert.deepEqual(evs[0].deliveries, [
    { target: 'notice', state: 'delivered', attempts: 1, next_at: null, last_status: 200,
      last_at: new Date(at + 100).toISOString(), first_at: new Date(at).toISOString() },
    { target: 'wh_test', state: 'pending', attempts: 3, next_at: new Date(next).toISOString(), last_status: 503,
      last_at: new Date(at + 20000).toISOString(), first_at: new Date(at).toISOString() },
  ]);

  const table = w.cli(['event', 'list', '--key', k.id]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /^TIME\s+TYPE\s+KEY\s+SUMMARY\s+DELIVERIES$/);
  assert.equal(lines.length, 4);
  assert.match(lines[1], /key\.issued\s+key_\S+\s+lister\s+-$/);
  assert.match(lines[2], /key\.usage_threshold\s+\S+\s+50% of the daily cap: 1 of 2\s+-$/);
  assert.match(lines[3], /key\.cap_reached\s+\S+\s+daily cap reached: 2 of 2 used, 1 more refused; resets \S+T00:00:00\.000Z\s+notice delivered 1 tries, last 200 at \S+; wh_test pending 3 tries, next \S+Z, last 503$/);

  // --since: a time after every event leaves none; a duration keeps them.
  assert.deepEqual(jsonLines(w.cli(['event', 'list', '--key', k.id, '--since', '2999-01-01T00:00:00Z', '--json'])), []);
  assert.equal(jsonLines(w.cli(['event', 'list', '--key', k.id, '--since', '1h', '--json'])).length, 3);
  assert.equal(jsonLines(w.cli(['event', 'list', '--type', 'key.usage_threshold', '--json'])).filter((e) => e.key === k.id).length, 1);
  for (const args of [['--bogus'], ['--since', 'yesterday'], ['--key'], ['--type', 'a', '--type', 'b']]) {
    const r = w.cli(['event', 'list', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('key show lists the key\'s last 10 events with their delivery state', async () => {
  const k = w.issue(['--name', 'shown']);
  const other = w.issue(['--name', 'other']);
  for (let i = 1; i <= 11; i++) assert.equal(w.cli(['key', 'update', k.id, '--name', `n${i}`]).code, 0);
  assert.equal(w.cli(['key', 'update', other.id, '--name', 'not-mine']).code, 0);
  const show = JSON.parse(w.cli(['key', 'show', k.id, '--json']).stdout);
  assert.equal(show.recent_events.length, 10);
  assert.ok(show.recent_events.every((e) => e.key === k.id && e.type === 'key.updated'));
  assert.deepEqual(show.recent_events.map((e) => e.data.changed.name.new), ['n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11']);
  const text = w.cli(['key', 'show', k.id]).stdout;
  const ev = text.slice(text.indexOf('recent events:\n')).trim().split('\n');
  assert.equal(ev.length, 11, text);
  assert.match(ev[10], /^ {2}\S+Z {2}key\.updated {2}changed: name {2}\[-\]$/);
  const fresh = w.issue();
  assert.match(w.cli(['key', 'show', fresh.id]).stdout, /recent events:\n {2}\S+Z {2}key\.issued {2}- {2}\[-\]\n$/);
});
