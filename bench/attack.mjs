// bench/attack.mjs - the figures of the hardening issue, measured against
// real parts (redis-server, the fake Resend, sendcapd from ./build), with
// the daemon's default settings.  Usage (after building):
//   ulimit -n 20000; node bench/attack.mjs
// SENDCAPD=/path/sendcapd SENDCAP=/path/sendcap measure another build (an
// older commit, for the figures before a fix).  Prints one line per figure.  Sends only to 127.0.0.1 and 127.0.0.2.
import net from 'node:net';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { World, httpCall } from '../tests/lib/harness.mjs';

const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const email = { from: 'agent@example.com', to: 'a@example.com', subject: 'hi', text: 'hi' };

function status(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]) * 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) * 1024 };
}

// One connection sending a 39 MiB body under `keyHeader`, again and again
// until stop() (each time the proxy answers and closes, a new one).
function bodyFlood(url, keyHeader, until) {
  const u = new URL(url);
  const chunk = Buffer.alloc(MiB, 0x20);
  return new Promise((resolve) => {
    let conns = 0;
    const one = () => {
      if (Date.now() >= until) { resolve(conns); return; }
      conns++;
      const s = net.connect({ host: u.hostname, port: Number(u.port) });
      s.on('error', () => {});
      s.on('data', () => s.destroy()); // answered: a keep-alive server would wait for more
      s.on('close', () => setImmediate(one));
      s.write(['POST /emails HTTP/1.1', 'Host: x', ...(keyHeader ? [keyHeader] : []),
        'Content-Type: application/json', `Content-Length: ${39 * MiB}`].join('\r\n') + '\r\n\r\n');
      let sent = 0;
      const pump = () => {
        while (sent < 39 && s.writable) {
          sent++;
          if (!s.write(chunk)) { s.once('drain', pump); return; }
        }
        s.end();
      };
      pump();
    };
    one();
  });
}

const w = new World();
await w.start({ proxyArgs: ['--listen', '0.0.0.0:0'] });
try {
  const k = w.issue();
  const pid = w.proxy.proc.pid;
  const u = new URL(w.proxy.url);
  const base = `http://127.0.0.1:${u.port}`;
  await w.call(k.key, 'POST', '/emails', email);

  // 1. Peak RSS, 30 connections each sending 39 MiB without a key.
  {
    const t = Date.now() + 10000;
    const conns = await Promise.all(Array.from({ length: 30 }, () => bodyFlood(base, null, t)));
    const s = status(pid);
    console.log(`peak RSS with 30 connections sending 39 MiB bodies without a key for 10 s ` +
      `(${conns.reduce((a, b) => a + b, 0)} bodies started): ${(s.hwm / MiB).toFixed(1)} MiB ` +
      `(goal: under --max-pending-body 256 MiB + 50 MiB)`);
  }

  // 2. A real agent's 503s while 8 connections send 39 MiB with an unknown key.
  {
    const t = Date.now() + 10000;
    const flood = Promise.all(Array.from({ length: 8 },
      () => bodyFlood(base, `Authorization: Bearer vk_${'Q'.repeat(43)}`, t)));
    const counts = {};
    let calls = 0;
    while (Date.now() < t) {
      const r = await w.call(k.key, 'POST', '/emails', email, { proxy: { url: base } });
      counts[r.status] = (counts[r.status] ?? 0) + 1;
      calls++;
    }
    await flood;
    console.log(`a real agent's calls while 8 connections send 39 MiB with an unknown key for 10 s: ` +
      `${calls} calls, ${counts[503] ?? 0} answered 503 (statuses ${JSON.stringify(counts)}; goal: 0)`);
  }

  // 3. Redis growth from 20,000 unauthenticated requests.
  {
    const mem = () => Number(/used_memory:(\d+)/.exec(w.redis.raw('INFO', 'memory'))[1]);
    await sleep(1500);
    const m0 = mem();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < 20000) {
        const i = next++;
        const headers = { 'x-agent-run-id': `flood-${i}` };
        if (i % 2) headers.authorization = `Bearer vk_${String(i).padStart(43, 'A')}`;
        await httpCall(base, { method: 'POST', path: '/emails', headers, body: email, agent });
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    agent.destroy();
    await sleep(2500); // the last second's summary
    console.log(`Redis growth from 20,000 requests without a working key (${secs.toFixed(1)} s): ` +
      `${((mem() - m0) / 1024).toFixed(0)} KB (goal: under 200 KB)`);
  }

  // 4. A second client while one address holds 10,100 idle connections.
  {
    const held = [];
    let refused = 0;
    for (let i = 0; i < 10100; i++) {
      const s = net.connect({ host: '127.0.0.1', localAddress: '127.0.0.2', port: Number(u.port) });
      s.on('error', () => { refused++; });
      s.on('close', () => {});
      held.push(s);
      if (i % 500 === 499) await sleep(20);
    }
    await sleep(1000);
    const open = held.filter((s) => !s.destroyed).length;
    const r = await w.call(k.key, 'POST', '/emails', email, { proxy: { url: base } })
      .catch((e) => ({ status: 0, text: `no answer (${e.cause?.code ?? e.message})` }));
    console.log(`second client (from 127.0.0.1) while 127.0.0.2 opened 10,100 idle connections ` +
      `(${open} still open on the client side): answered ${r.status} ${r.status === 200 ? "" : r.text} (goal: served); ` +
      `daemon RSS ${(status(pid).rss / MiB).toFixed(1)} MiB`);
    for (const s of held) s.destroy();
  }
} finally {
  await w.stop();
}
