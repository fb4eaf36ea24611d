// webhook-receiver.mjs - a local webhook endpoint for tests (SPEC §6).
//
// It checks every delivery with the Standard Webhooks algorithm written
// here from the spec (https://www.standardwebhooks.com), not with sendcap's
// code: HMAC-SHA256 keyed with the base64-decoded secret after "whsec_",
// over `${webhook-id}.${webhook-timestamp}.${body}`, compared in constant
// time with each "v1,<base64>" of the webhook-signature header.  Deliveries
// that verify are recorded in `deliveries`; those that do not are answered
// 401 and recorded in `rejected`.  A test can queue answers (a status, or
// a hang) for the next requests.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

// Verify one delivery; returns true or false.  Exported so a test can show
// it rejects a tampered body, a wrong secret and a stale timestamp.
export function verifyStandardWebhook(secret, headers, body, { nowSec = Math.floor(Date.now() / 1000), toleranceSec = 300 } = {}) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (!id || !ts || !sigs || !secret.startsWith('whsec_')) return false;
  if (!/^\d+$/.test(ts) || Math.abs(nowSec - Number(ts)) > toleranceSec) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
  for (const part of sigs.split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const got = Buffer.from(sig, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return true;
  }
  return false;
}

export class WebhookReceiver {
  constructor(secret = null) {
    this.secret = secret;
    this.deliveries = []; // {id, timestamp, body (parsed), raw, status}
    this.rejected = [];
    this.arrivals = 0;
    this.queue = [];
    this.hanging = [];
    this.server = http.createServer((req, res) => this.#handle(req, res));
  }

  async start(port = 0) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}/hook`;
    return this;
  }

  async stop() {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }

  // The answer to the next request: {status} or {hang: true}.
  next(answer) { this.queue.push(answer); }

  // Deliveries of one event type (accepted with a 2xx).
  of(type) { return this.deliveries.filter((d) => d.body.type === type && d.status >= 200 && d.status < 300); }

  #handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      this.arrivals++;
      const raw = Buffer.concat(chunks).toString('utf8');
      if (!this.secret || !verifyStandardWebhook(this.secret, req.headers, raw)) {
        this.rejected.push({ headers: req.headers, raw });
        res.writeHead(401).end('bad signature');
        return;
      }
      const answer = this.queue.shift() ?? { status: 200 };
      if (answer.hang) { this.hanging.push(res); }
      this.deliveries.push({
        id: req.headers['webhook-id'], timestamp: req.headers['webhook-timestamp'],
        body: JSON.parse(raw), raw, status: answer.hang ? 0 : answer.status, at: Date.now(),
      });
      if (!answer.hang) res.writeHead(answer.status, { 'content-type': 'text/plain' }).end('ok');
    });
  }
}

// Wait (up to ms) until pred() is true; returns its last value.
export async function until(pred, ms = 20000, step = 50) {
  const t0 = Date.now();
  let v = pred();
  while (!v && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, step));
    v = pred();
  }
  return v;
}

// `sendcap webhook test` without blocking this process's event loop.
export function cliAsync(world, args) {
  return world.cliAsync(args);
}

// The delivery state of event id (stream id, no evt_) for target, parsed.
export function deliveryState(world, eid, target) {
  const s = world.redis.raw('HGET', `sc:evs:${eid}`, target).trim();
  if (!s) return null;
  const [state, attempts, nextAt, lastStatus, lastAt, firstAt] = s.split('|');
  return { state, attempts: Number(attempts), nextAt: Number(nextAt), lastStatus, lastAt: Number(lastAt), firstAt: Number(firstAt) };
}
