// Issue #10 item 7, SPEC §3: one address holding many idle connections must
// not lock other callers out.  Connections are bounded per client address
// (--max-conns-per-client: the address's longest-idle connection makes room;
// with none idle, the one over it gets 503 service_unavailable) and
// in total (--max-conns), where the idle keep-alive connection that waited
// longest is closed to make room for a new one instead of refusing it.
// Two addresses: 127.0.0.1 and 127.0.0.2 (both loopback on Linux).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { World } from '../lib/harness.mjs';

const worlds = [];
after(async () => { for (const w of worlds) await w.stop(); });

async function world(args) {
  const w = new World();
  worlds.push(w);
  await w.start({ proxyArgs: args });
  return { w, key: w.issue(['--scope', 'full']).key };
}

// A connection from `from` that has made one call and now sits idle
// (keep-alive).  Resolves once the answer to that call is in.
function openIdle(w, key, from = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: Number(new URL(w.proxy.url).port), host: '127.0.0.1', localAddress: from });
    let buf = '';
    s.gone = new Promise((r) => s.once('close', r));
    s.on('error', () => { /* close follows */ });
    s.on('data', (d) => {
      buf += d;
      const m = buf.match(/content-length: (\d+)/i);
      const end = buf.indexOf('\r\n\r\n');
      if (m && end >= 0 && buf.length >= end + 4 + Number(m[1])) {
        s.status = Number(buf.split(' ')[1]);
        s.text = buf;
        resolve(s);
      }
    });
    s.once('close', () => { if (s.status === undefined) { s.text = buf; s.status = 0; resolve(s); } });
    s.once('error', reject);
    s.write(`GET /emails/e1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`);
  });
}

// A connection from `from` in the middle of sending a request head: busy,
// not idle.  Resolves once it is open.
function openBusy(w, from = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: Number(new URL(w.proxy.url).port), host: '127.0.0.1', localAddress: from }, () => {
      s.write('GET /emails/e1 HTTP/1.1\r\nHost: x\r\n');
      resolve(s);
    });
    s.gone = new Promise((r) => s.once('close', r));
    s.on('error', () => { /* close follows */ });
    s.once('error', reject);
  });
}

test('one address busy at --max-conns-per-client: its next connection gets 503, another address is served', async () => {
  const { w, key } = await world(['--max-conns-per-client', '5']);
  const held = [];
  for (let i = 0; i < 5; i++) held.push(await openBusy(w));
  await new Promise((r) => setTimeout(r, 100)); // the server has accepted them
  const n = w.fake.received.length;
  const over = await openIdle(w, key);
  assert.equal(over.status, 503, over.text);
  const json = JSON.parse(over.text.slice(over.text.indexOf('\r\n\r\n') + 4));
  assert.equal(json.statusCode, 503);
  assert.equal(json.name, 'service_unavailable');
  assert.equal(w.fake.received.length, n, 'the refused connection reached nothing');
  await over.gone;
  for (const s of held) assert.equal(s.destroyed, false, 'a busy connection is never closed for room');

  const other = await openIdle(w, key, '127.0.0.2');
  assert.equal(other.status, 200, other.text);
  assert.equal(w.fake.received.length, n + 1);
  other.destroy();

  // Closing one of the five frees its place for the same address.
  held[0].destroy();
  await held[0].gone;
  let again;
  for (let i = 0; i < 100; i++) { // the server sees the close in its next loop turn
    again = await openIdle(w, key);
    if (again.status === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(again.status, 200, again.text);
  for (const s of [...held, again]) s.destroy();
});

test('one address idle at --max-conns-per-client: its longest-idle connection makes room', async () => {
  // Every agent behind one address (127.0.0.1 by default) shares its limit:
  // idle keep-alive connections must not lock them out.
  const { w, key } = await world(['--max-conns-per-client', '5']);
  const held = [];
  for (let i = 0; i < 5; i++) {
    const s = await openIdle(w, key);
    assert.equal(s.status, 200, s.text);
    held.push(s);
  }
  const next = await openIdle(w, key);
  assert.equal(next.status, 200, next.text);
  await held[0].gone;
  for (const s of held.slice(1)) assert.equal(s.destroyed, false, 'only the oldest idle one goes');
  for (const s of [...held, next]) s.destroy();
});

test('at --max-conns the longest-idle keep-alive connection makes room for a new one', async () => {
  const { w, key } = await world(['--max-conns', '4', '--max-conns-per-client', '100']);
  const held = [];
  for (let i = 0; i < 4; i++) {
    const s = await openIdle(w, key);
    assert.equal(s.status, 200, s.text);
    held.push(s);
  }
  const n = w.fake.received.length;
  const fresh = await openIdle(w, key, '127.0.0.2');
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(w.fake.received.length, n + 1);
  await held[0].gone; // the oldest idle one was closed for it
  assert.equal(held[0].destroyed, true);
  for (const s of held.slice(1)) assert.equal(s.destroyed, false, 'only the oldest idle one goes');
  for (const s of [...held, fresh]) s.destroy();
});

test('at --max-conns-per-client the address\'s own longest-idle connection goes, not an older one of another address', async () => {
  const { w, key } = await world(['--max-conns-per-client', '3']);
  const other = await openIdle(w, key, '127.0.0.2'); // idle longest of all
  assert.equal(other.status, 200, other.text);
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await openIdle(w, key));
  const next = await openIdle(w, key);
  assert.equal(next.status, 200, next.text);
  await held[0].gone;
  assert.equal(other.destroyed, false, 'another address keeps its idle connection');
  for (const s of held.slice(1)) assert.equal(s.destroyed, false, 'only the oldest idle one goes');
  for (const s of [other, ...held, next]) s.destroy();
});

test('at --max-conns with none idle the next connection gets 503 and reaches nothing', async () => {
  const { w, key } = await world(['--max-conns', '3', '--max-conns-per-client', '100']);
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await openBusy(w));
  await new Promise((r) => setTimeout(r, 100)); // the server has accepted them
  const n = w.fake.received.length;
  const over = await openIdle(w, key, '127.0.0.2');
  assert.equal(over.status, 503, over.text);
  const json = JSON.parse(over.text.slice(over.text.indexOf('\r\n\r\n') + 4));
  assert.equal(json.statusCode, 503);
  assert.equal(json.name, 'service_unavailable');
  assert.match(json.message, /--max-conns\b/);
  assert.equal(w.fake.received.length, n, 'the refused connection reached nothing');
  for (const s of held) assert.equal(s.destroyed, false, 'a busy connection is never closed for room');
  for (const s of held) s.destroy();
});
