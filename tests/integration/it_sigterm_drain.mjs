// SIGTERM: sendcapd stops accepting, lets the request in flight finish and
// answers it, then exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

test('in-flight request finishes, then exit 0', async () => {
  const k = w.issue();
  w.fake.next({ hang: true });
  const pending = w.call(k.key, 'POST', '/emails', { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  while (w.fake.hanging.length === 0) await new Promise((r) => setTimeout(r, 10));
  const tTerm = Date.now();
  w.proxy.proc.kill('SIGTERM');
  // No longer accepting (as soon as the signal is handled).
  const port = Number(new URL(w.proxy.url).port);
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    refused = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(false); });
      s.on('error', () => resolve(true));
    });
    if (!refused) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(refused, 'new connections are refused while draining');
  assert.equal(w.proxy.proc.exitCode, null, 'still running while a request is in flight');
  const tRelease = Date.now();
  const held = w.fake.hanging.shift();
  held.writeHead(200, { 'content-type': 'application/json' });
  held.end('{"id":"late"}');
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal(res.json.id, 'late');
  const { code } = await w.proxy.exited;
  console.log(`# drain: SIGTERM -> exit ${Date.now() - tTerm} ms, of which ${Date.now() - tRelease} ms after the held call was answered`);
  assert.equal(code, 0);
  // The held call's record reached Redis before the exit.
  const rows = w.cli(['log', 'query', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.some((r) => r.email_ids.includes('late') && r.outcome === 'known'), 'record written before exit');
  assert.match(w.proxy.log, /drained/);
});
