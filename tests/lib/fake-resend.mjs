// fake-resend.mjs - a local stand-in for api.resend.com, for tests only.
//
// It answers the endpoints the tests use the way Resend documents them
// (resend/openapi.yaml), checks the real API key like Resend would (401 for
// an unknown key), and records every request it receives so a test can
// assert what sendcapd forwarded: method, path, headers, body.  A test can
// queue special answers (a status, a hang, a dropped connection).
//
// new FakeResend() serves plain HTTP; new FakeResend({ tls }) serves HTTPS
// with tls as node:https server options ({ key, cert, minVersion, ... }) and
// counts handshakes that failed (tlsErrors), so a test can tell a refused
// certificate from a call that never reached the fake.
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';

export class FakeResend {
  constructor({ tls } = {}) {
    this.received = [];
    this.validKeys = new Set();
    this.queue = [];
    this.hanging = [];
    this.scheme = tls ? 'https' : 'http';
    this.tlsErrors = [];
    this.server = tls
      ? https.createServer(tls, (req, res) => this.#handle(req, res))
      : http.createServer((req, res) => this.#handle(req, res));
    if (tls) this.server.on('tlsClientError', (e) => { this.tlsErrors.push(e.code ?? e.message); });
    this.server.keepAliveTimeout = 60_000;
    this.connections = 0;
    this.server.on('connection', () => { this.connections++; });
  }

  // host: another loopback address (127.0.0.2, ...) for the upstream-pinning tests.
  async start(host = '127.0.0.1') {
    await new Promise((resolve) => this.server.listen(0, host, resolve));
    this.url = `${this.scheme}://${host}:${this.server.address().port}`;
    return this;
  }

  async stop() {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }

  // Queue the answer to the next request: {status, headers, body} or
  // {hang: true} (never answer) or {drop: true} (close the connection).
  next(answer) {
    this.queue.push(answer);
  }

  reset() {
    this.received = [];
    this.queue = [];
  }

  #handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try { json = raw ? JSON.parse(raw) : null; } catch { json = undefined; }
      // at: when the request was received (ms, monotonic), for windows.
      const entry = { method: req.method, url: req.url, headers: req.headers, body: raw, json, at: performance.now() };
      this.received.push(entry);
      const special = this.queue.shift();
      if (special?.hang) { this.hanging.push(res); return; }
      if (special?.drop) { req.socket.destroy(); return; }
      const answer = special ?? this.#answer(entry);
      const headers = {
        'content-type': 'application/json',
        'ratelimit-limit': '10',
        'ratelimit-remaining': '9',
        'ratelimit-reset': '1',
        'x-resend-fake': 'yes',
        ...(answer.headers ?? {}),
      };
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status ?? 200, headers);
      res.end(body);
    });
  }

  #answer({ method, url, headers, json }) {
    const key = (headers.authorization ?? '').replace(/^Bearer /, '');
    if (!this.validKeys.has(key)) {
      return { status: 401, body: { statusCode: 401, name: 'validation_error', message: 'API key is invalid' } };
    }
    const path = url.split('?')[0];
    if (method === 'POST' && path === '/emails') {
      if (json === undefined) return { status: 422, body: { statusCode: 422, name: 'validation_error', message: 'invalid JSON' } };
      return { status: 200, body: { id: randomUUID() } };
    }
    if (method === 'POST' && path === '/emails/batch') {
      const n = Array.isArray(json) ? json.length : 0;
      return { status: 200, body: { data: Array.from({ length: n }, () => ({ id: randomUUID() })) } };
    }
    let m;
    if ((m = path.match(/^\/emails\/([^/]+)$/)) && (method === 'GET' || method === 'PATCH')) {
      return {
        status: 200,
        body: { object: 'email', id: m[1], to: ['someone@example.com'], from: 'agent@example.com',
          created_at: new Date().toISOString(), subject: 'hello', html: '<p>hi</p>', text: null,
          bcc: null, cc: null, reply_to: null, last_event: 'delivered', scheduled_at: null },
      };
    }
    if ((m = path.match(/^\/emails\/([^/]+)\/cancel$/)) && method === 'POST') {
      return { status: 200, body: { object: 'email', id: m[1] } };
    }
    if (method === 'GET' && path === '/domains') {
      return { status: 200, body: { object: 'list', has_more: false, data: [] } };
    }
    if (path.startsWith('/api-keys')) {
      return { status: 200, body: { id: randomUUID(), token: 're_MINTED_BY_FAKE' } };
    }
    return { status: 404, body: { statusCode: 404, name: 'not_found', message: 'Route not found' } };
  }
}
