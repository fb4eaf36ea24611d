// --workers N: N sendcapd processes share one port (SO_REUSEPORT); calls
// spread over them, each writes its own call-log chain, caps stay exact,
// and SIGTERM to the parent stops them all cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { World, freePort, freePortPair, SENDCAPD } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

test('two workers on one port: exact cap, two writers, clean stop', async () => {
  const port = await freePort();
  const mport = await freePortPair();
  const proc = spawn(SENDCAPD, ['--listen', `127.0.0.1:${port}`, '--upstream-url', w.fake.url, '--workers', '2',
    '--metrics-listen', `127.0.0.1:${mport}`],
    { env: w.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  for (let i = 0; i < 200 && (log.match(/listening on/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal((log.match(/listening on/g) ?? []).length, 2, log);

  const k = w.issue(['--daily-cap', '50', '--agent-run-id', 'run-workers']);
  const url = `http://127.0.0.1:${port}`;
  // Fresh connections, so the kernel spreads them over both workers.
  // A subject per send: the same email twice is a duplicate_send (SPEC §5).
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${url}/emails`, {
    method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: `s ${i}`, text: 't' }),
  }).then((r) => r.status)));
  assert.equal(results.filter((s) => s === 200).length, 50);
  assert.equal(results.filter((s) => s === 429).length, 150);
  assert.equal(w.fake.received.length, 50);

  await w.waitForLog(200);
  const v = w.cli(['log', 'verify']);
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, /verified 200 records from 2 writers/, 'both workers served and logged');

  // Each worker has its own metrics listener: base port + its index.
  let served = 0;
  for (const p of [mport, mport + 1]) {
    const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
    for (const m of text.matchAll(/^sendcap_requests_total\{[^}]*\} (\d+)$/gm)) served += Number(m[1]);
  }
  assert.equal(served, 200, 'the two workers\' metrics add up to every call');

  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(log, /all workers stopped/);
});
