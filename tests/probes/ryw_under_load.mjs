// A probe, not a test (ctest does not run it; it fails today): does a
// client's next call through another sendcapd see what its last call
// settled, while Redis lags behind one instance's load?  wrk drives 200
// connections of refused sends (a cap-0 key) through instance A, and a
// client sends through A, then reads the email back through B.
//   cd build/tests && SENDCAPD=../sendcapd SENDCAP=../sendcap \
//     node --test ../../tests/probes/ryw_under_load.mjs
// Measured 2026-12-02 (2 cores): about half the reads through B answered
// 401 "not sent with it" (299 of 545; the same at 7530ab6): A wrote its
// record (the email's owner) after answering, or Redis ran B's call first.
import { test, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import { World, varied } from '../lib/harness.mjs';
const w = new World();
before(async () => { await w.start({ proxies: 2 }); });
after(async () => { await w.stop(); });
const email = varied({ from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' });
test('probe', async () => {
  const k = w.issue();
  const bg = w.issue(['--daily-cap', '0']);
  const [a, b] = w.proxies;
  const wrk = spawn('wrk', ['-t2', '-c200', '-d20s', '-s', new URL('../../bench/send.lua', import.meta.url).pathname, `${a.url}/emails`],
    { env: { ...process.env, VK: bg.key }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = ''; wrk.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => setTimeout(r, 1000));
  let bad = 0, n = 0; const codes = {};
  const t0 = Date.now();
  while (Date.now() - t0 < 15000) {
    const sent = await w.call(k.key, 'POST', '/emails', email, { proxy: a });
    if (sent.status !== 200) { codes['send' + sent.status] = (codes['send' + sent.status] || 0) + 1; continue; }
    const got = await w.call(k.key, 'GET', `/emails/${sent.json.id}`, undefined, { proxy: b });
    n++;
    if (got.status !== 200) { bad++; codes[got.status] = (codes[got.status] || 0) + 1; if (bad < 3) console.log("BODY", got.text); }
  }
  await new Promise((r) => wrk.on('exit', r));
  console.log(`PROBE rounds ${n} bad ${bad} codes ${JSON.stringify(codes)} wrk ${out.match(/Requests\/sec:\s+\S+/)}`);
});
