// harness.mjs - real parts for sendcap's integration and SDK tests.
//
// Each test file builds its own world: a throwaway redis-server on a free
// loopback port (its own temp dir), the fake Resend, a master key made by
// `sendcap init`, and sendcapd processes started with --listen 127.0.0.1:0
// (the harness reads the bound port from the daemon's log).  Everything it
// starts it stops, by the PID it started.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeResend } from './fake-resend.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const buildDir = process.env.SENDCAP_BUILD_DIR ?? path.resolve(here, '../../build');
export const SENDCAPD = process.env.SENDCAPD ?? path.join(buildDir, 'sendcapd');
export const SENDCAP = process.env.SENDCAP ?? path.join(buildDir, 'sendcap');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A free port p such that p + 1 is free too (for --workers 2 metrics).
export async function freePortPair() {
  const canBind = (port) => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 100; i++) {
    const p = await freePort();
    if (p < 65535 && await canBind(p + 1)) return p;
  }
  throw new Error('no two consecutive free ports');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// SPEC §5's dedupe window (on by default, 10 minutes) answers the same send
// twice with 409 duplicate_send.  A test that sends one email many times for
// another reason wraps it here: its subject gets a new number each time it
// is serialised (JSON.stringify, spread), so every send is a new one.
let variedSeq = 0;
export function varied(email) {
  const { subject = '', ...rest } = email;
  return Object.defineProperty({ ...rest }, 'subject', {
    get: () => `${subject} #${++variedSeq}`, enumerable: true,
  });
}

export class Redis {
  // opts.conf: a redis.conf to start from (its own settings then overridden);
  // opts.args: more arguments; opts.auth: {user, password} for the URL and redis-cli.
  constructor(dir, opts = {}) { this.dir = dir; this.opts = opts; }

  // freePort() only finds a port that was free a moment ago: another test
  // (or another suite on the machine) can bind it before redis-server does.
  // redis-server cannot report a port it picked itself (port 0 turns TCP
  // off), so a start that fails with EADDRINUSE is retried on a new port, or
  // on the same one when the caller chose it (a restart).  "Ready" is read
  // from this process's own log, so a PING answered by someone else's
  // server on the port never counts as this one being up.
  async start(port) {
    const fixed = port ?? this.port;
    for (let attempt = 0; attempt < 20; attempt++) {
      this.port = fixed ?? await freePort();
      const auth = this.opts.auth ? `${this.opts.auth.user}:${this.opts.auth.password}@` : '';
      this.url = `redis://${auth}127.0.0.1:${this.port}/0`;
      this.proc = spawn('redis-server', [
        ...(this.opts.conf ? [this.opts.conf] : []),
        '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
        '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
        '--rdbcompression', 'no', '--maxmemory-policy', 'noeviction', '--logfile', '',
        ...(this.opts.args ?? []),
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.log = '';
      this.proc.stdout.on('data', (d) => { this.log += d; });
      const exited = new Promise((r) => this.proc.once('exit', () => r('exited')));
      for (let i = 0; i < 200; i++) {
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) break;
        if (/Ready to accept connections/.test(this.log) && this.cli('PING').stdout.trim() === 'PONG') return this;
        await Promise.race([sleep(25), exited]);
      }
      if (this.proc.exitCode === null && this.proc.signalCode === null) break; // hung, not refused
      if (!/Address already in use/.test(this.log)) break;
      if (fixed) await sleep(100); // the caller's port: wait for it to come free
    }
    throw new Error(`redis-server did not start: ${this.log}`);
  }

  authArgs() {
    const a = this.opts.admin ?? this.opts.auth;
    return a ? ['--user', a.user, '--pass', a.password, '--no-auth-warning'] : [];
  }

  cli(...args) {
    return spawnSync('redis-cli', ['-p', String(this.port), ...this.authArgs(), '--no-raw', ...args], { encoding: 'utf8' });
  }

  raw(...args) {
    return spawnSync('redis-cli', ['-p', String(this.port), ...this.authArgs(), '--raw', ...args], { encoding: 'utf8' }).stdout;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

export class Proxy {
  constructor(world, extraArgs = [], extraEnv = {}) {
    this.world = world;
    this.extraArgs = extraArgs;
    this.extraEnv = extraEnv;
    this.log = '';
  }

  async start() {
    this.proc = spawn(SENDCAPD, ['--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0',
      '--upstream-url', this.world.fake.url, ...this.extraArgs], { env: { ...this.world.env, ...this.extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((r) => this.proc.once('exit', (code, sig) => r({ code, sig })));
    for (let i = 0; i < 400; i++) {
      const m = this.log.match(/listening on (\S+) \((https?)\),.* metrics on (\S+)/);
      if (m) {
        this.url = `${m[2]}://${m[1]}`;
        this.metricsUrl = m[3] === 'off' ? null : `http://${m[3]}`;
        // Listening comes before the Redis connection; a call made before
        // it is refused (503, closed by design).  Tests start calling at
        // once, so wait for /readyz like a load balancer would.
        if (this.metricsUrl) await this.ready();
        return this;
      }
      if (this.proc.exitCode !== null) break;
      await sleep(10);
    }
    throw new Error(`sendcapd did not start: ${this.log}`);
  }

  async ready(ms = 5000) {
    for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(10)) {
      try {
        if ((await fetch(`${this.metricsUrl}/readyz`)).status === 200) return this;
      } catch { /* not answering yet */ }
    }
    throw new Error(`sendcapd not ready after ${ms} ms: ${this.log}`);
  }

  async stop(signal = 'SIGTERM') {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill(signal);
    return this.exited;
  }
}

export class World {
  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'sendcap-test-'));
    this.realKey = `re_TestReal${Math.random().toString(36).slice(2)}Key`;
    this.proxies = [];
  }

  async start({ proxies = 1, proxyArgs = [], redis = {} } = {}) {
    this.redis = await new Redis(this.dir, redis).start();
    this.fake = await new FakeResend().start();
    this.fake.validKeys.add(this.realKey);
    this.env = {
      PATH: process.env.PATH,
      SENDCAP_REDIS_URL: this.redis.url,
      SENDCAP_MASTER_KEY_FILE: path.join(this.dir, 'master.key'),
    };
    const init = this.cli(['init']);
    if (init.code !== 0) throw new Error(`sendcap init failed: ${init.stderr}`);
    const add = this.cli(['upstream', 'add', 'prod'], { input: `${this.realKey}\n` });
    if (add.code !== 0) throw new Error(`upstream add failed: ${add.stderr}`);
    for (let i = 0; i < proxies; i++) await this.addProxy(proxyArgs);
    return this;
  }

  get proxy() { return this.proxies[0]; }

  async addProxy(args = [], env = {}) {
    const p = await new Proxy(this, args, env).start();
    this.proxies.push(p);
    return p;
  }

  cli(args, { input, env } = {}) {
    const r = spawnSync(SENDCAP, args, { env: { ...this.env, ...(env ?? {}) }, input: input ?? '', encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  // The CLI without blocking this process's event loop: for commands that
  // wait on something served from this process (the fake Resend, a webhook
  // receiver), which spawnSync would keep from answering.
  cliAsync(args, { env } = {}) {
    return new Promise((resolve) => {
      const p = spawn(SENDCAP, args, { env: { ...this.env, ...(env ?? {}) } });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d) => { stdout += d; });
      p.stderr.on('data', (d) => { stderr += d; });
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  // Issue a vault key; returns the parsed --json line ({id, key, ...}).
  issue(args = []) {
    const r = this.cli(['key', 'issue', '--upstream', 'prod', '--json', ...args]);
    if (r.code !== 0) throw new Error(`key issue failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  // Give a key the controls of SPEC §5 through `sendcap key update`, so
  // every sendcapd re-reads the record on its next call.  Fields are the
  // record's names (store/keys.h); null removes the control.
  setControls(k, fields) {
    const dur = (ms) => (ms === 0 ? '0' : ms % 3600000 === 0 ? `${ms / 3600000}h`
      : ms % 60000 === 0 ? `${ms / 60000}m` : `${ms / 1000}s`);
    const win = { 1000: 's', 60000: 'm', 3600000: 'h' };
    const args = [];
    for (const [f, v] of Object.entries(fields)) {
      if (f === 'monthly_cap') args.push('--monthly-cap', v === null ? 'none' : String(v));
      else if (f === 'per_recipient_cap') args.push('--per-recipient-cap', v === null ? 'none' : String(v));
      else if (f === 'dedupe_window_ms') args.push('--dedupe-window', dur(v ?? 600000));
      else if (f === 'rate_limit') args.push('--rate', v === null ? 'none' : `${v}/${win[fields.rate_window_ms]}`);
      else if (f !== 'rate_window_ms') throw new Error(`setControls: unknown control ${f}`);
    }
    const r = this.cli(['key', 'update', k.id, ...args]);
    if (r.code !== 0) throw new Error(`key update ${args.join(' ')} failed: ${r.stderr}`);
  }

  // Call records are written off the critical path: wait (up to 15 s) until
  // `log query ...args --format json` returns at least n rows; returns them.
  async waitForLog(n, args = []) {
    let rows = [];
    for (let i = 0; i < 300; i++) {
      const r = this.cli(['log', 'query', ...args, '--format', 'json']);
      rows = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (rows.length >= n) return rows;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`only ${rows.length} of ${n} call records arrived`);
  }

  // fetch through a proxy with a vault key.
  async call(key, method, pathAndQuery, body, { proxy, headers } = {}) {
    const p = proxy ?? this.proxy;
    const h = { ...(headers ?? {}) };
    if (key !== null) h.authorization = `Bearer ${key}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${p.url}${pathAndQuery}`, {
      method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  }

  // Every value in Redis, as text (RDB dump with compression off, plus AOF).
  redisDump() {
    this.redis.cli('SAVE');
    let out = '';
    for (const f of ['dump.rdb', 'appendonlydir']) {
      try { out += readFileSync(path.join(this.dir, f)).toString('latin1'); } catch { /* dir or missing */ }
    }
    const aofDir = path.join(this.dir, 'appendonlydir');
    try {
      for (const f of spawnSync('ls', [aofDir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
        out += readFileSync(path.join(aofDir, f)).toString('latin1');
      }
    } catch { /* none */ }
    return out;
  }

  async stop() {
    for (const p of this.proxies) await p.stop('SIGKILL');
    await this.fake?.stop();
    await this.redis?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function errorShape(assert, res, status, name) {
  assert.equal(res.status, status, `status: ${res.text}`);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.ok(res.headers.get('x-request-id')?.startsWith('req_'), 'X-Request-Id');
  assert.deepEqual(Object.keys(res.json).sort(), ['message', 'name', 'statusCode']);
  assert.equal(res.json.statusCode, status);
  assert.equal(res.json.name, name, res.json.message);
}

// A plain node:http request with a given keep-alive agent, for load tests
// where fetch's own pooling would hide what is concurrent.
export function httpCall(baseUrl, { method = 'GET', path = '/', headers = {}, body, agent }) {
  const http = globalThis.__sendcapHttp;
  return new Promise((resolve) => {
    const u = new URL(baseUrl);
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({
      host: u.hostname, port: u.port, method, path, agent,
      headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => resolve({ status: 0, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    if (data) req.write(data);
    req.end();
  });
}
globalThis.__sendcapHttp = (await import('node:http')).default;

// A script of store/lua as cmake/embed_lua.cmake embeds it (its
// --#include "lib/….lua" lines expanded), for tests that EVAL it directly.
export function luaScript(name) {
  const dir = path.join(here, '../../store/lua');
  return readFileSync(path.join(dir, name), 'utf8')
    .replace(/--#include "([a-z0-9_/]+\.lua)"/g, (_, f) => readFileSync(path.join(dir, f), 'utf8'));
}
