// bench/events.mjs - how long from a capped send to its key.cap_reached at
// a webhook (SPEC §6, issue #13), against real parts: redis-server, the
// fake Resend, sendcapd from ./build, and a local receiver that verifies
// every signature (tests/lib/webhook-receiver.mjs).  Usage (after building):
//   node bench/events.mjs [N]        N keys (default 200), one capped send each
// For each key (cap 1): one send (200), then the send the cap refuses; the
// delay is from that send leaving this process to the receiver having the
// event (the instance delivers it before it answers the 429).  Prints the
// median and p99 of that delay and of the 429's own round trip.
import { World, httpCall } from '../tests/lib/harness.mjs';
import { WebhookReceiver, until } from '../tests/lib/webhook-receiver.mjs';

const N = Number(process.argv[2] || 200);
const w = new World();
const rcv = new WebhookReceiver();
await w.start({ proxies: 1 });
await rcv.start();
rcv.secret = JSON.parse(w.cli(['webhook', 'add', rcv.url, '--event', 'key.cap_reached', '--json']).stdout).secret;
const keys = [];
for (let i = 0; i < N; i++) keys.push(w.issue(['--daily-cap', '1', '--dedupe-window', '0']));

const px = w.proxies[0].url;
const send = (k, i) => httpCall(px, { method: 'POST', path: '/emails', headers: { authorization: `Bearer ${k.key}` },
  body: JSON.stringify({ from: 'agent@example.com', to: 'a@example.com', subject: `s${i}`, text: 'hi' }) });
const delay = [], answer = [];
for (let i = 0; i < N; i++) {
  const k = keys[i];
  const ok = await send(k, 0);
  if (ok.status !== 200) throw new Error(`send: ${ok.status}`);
  const t0 = performance.now();
  const t0wall = Date.now();
  const r = await send(k, 1);
  const t1 = performance.now();
  if (r.status !== 429) throw new Error(`capped send: ${r.status}`);
  const got = await until(() => rcv.of('key.cap_reached').find((d) => d.body.data.key_id === k.id), 10000, 1);
  if (!got) throw new Error(`no key.cap_reached for ${k.id}`);
  // The receiver stamps arrivals with Date.now(); the 429 came after it.
  delay.push(Math.max(0, got.at - t0wall));
  answer.push(t1 - t0);
}
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const delivered = rcv.of('key.cap_reached').length;
console.log(`events: ${N} capped sends, ${delivered} key.cap_reached delivered, ${rcv.rejected.length} bad signatures`);
console.log(`capped send -> key.cap_reached at the webhook: median ${q(delay, 0.5).toFixed(1)} ms, p99 ${q(delay, 0.99).toFixed(1)} ms (Date.now() resolution: 1 ms)`);
console.log(`capped send -> its 429 (after the delivery):   median ${q(answer, 0.5).toFixed(2)} ms, p99 ${q(answer, 0.99).toFixed(2)} ms`);
await rcv.stop();
await w.stop();
