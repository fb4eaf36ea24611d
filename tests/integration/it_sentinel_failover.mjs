// Redis failover with Sentinel: a primary, a replica and three sentinels on
// loopback; sendcapd and the CLI find the primary through the sentinels.
// The primary is killed under load: during the switch calls fail closed
// (503), after it they work again without a restart, and the daily cap is
// not exceeded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { World, Redis, freePort, httpCall } from '../lib/harness.mjs';

const w = new World();
let replica;
const sentinels = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  await w.start({ proxies: 0 });
  const rdir = path.join(w.dir, 'replica');
  mkdirSync(rdir);
  replica = await new Redis(rdir, { args: ['--replicaof', '127.0.0.1', String(w.redis.port)] }).start();
  // Redis 7 delays the first full sync by repl-diskless-sync-delay (5 s): wait for the link.
  for (let i = 0; i < 200 && !/master_link_status:up/.test(replica.raw('INFO', 'replication')); i++) await sleep(100);
  assert.match(replica.raw('INFO', 'replication'), /master_link_status:up/);
  const ports = [await freePort(), await freePort(), await freePort()];
  for (const [i, port] of ports.entries()) {
    const dir = path.join(w.dir, `sentinel${i}`);
    mkdirSync(dir);
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${dir}/log`,
      `sentinel monitor m 127.0.0.1 ${w.redis.port} 2`, 'sentinel down-after-milliseconds m 1000',
      'sentinel failover-timeout m 5000', 'sentinel parallel-syncs m 1', ''].join('\n'));
    const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    sentinels.push({ port, proc, dir, cli: (...a) => new Redis(dir).cli.call({ port, authArgs: () => [] }, ...a),
      raw: (...a) => new Redis(dir).raw.call({ port, authArgs: () => [] }, ...a) });
  }
  // Wait until every sentinel knows the replica and the other two sentinels.
  for (let i = 0; i < 200; i++) {
    const ok = sentinels.every((s) => {
      const f = s.raw('SENTINEL', 'master', 'm').split('\n');
      const v = (name) => Number(f[f.indexOf(name) + 1]);
      return v('num-slaves') >= 1 && v('num-other-sentinels') >= 2;
    });
    if (ok) break;
    await sleep(100);
  }
  w.env.SENDCAP_REDIS_SENTINELS = ports.map((p) => `127.0.0.1:${p}`).join(',');
  w.env.SENDCAP_REDIS_MASTER = 'm';
  w.env.SENDCAP_REDIS_URL = 'redis://127.0.0.1:1/0'; // ignored: the sentinels say where
  await w.addProxy(['--log-level', 'debug']);
});
after(async () => {
  for (const s of sentinels) s.proc.kill('SIGKILL');
  await replica?.stop();
  await w.stop();
});

test('kill the primary under load: 503s during the switch, then service; cap kept', async () => {
  const cap = 600;
  const k = w.issue(['--daily-cap', String(cap)]); // through the sentinels
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  const results = [];
  let stop = false, killedAt = 0;
  const t0 = Date.now();
  async function loop() {
    while (!stop) {
      const r = await httpCall(w.proxy.url, { method: 'POST', path: '/emails', agent,
        body: { from: 'a@example.com', to: 'b@example.com', subject: `s ${results.length} ${Math.random()}`, text: 't' },
        headers: { authorization: `Bearer ${k.key}` } });
      results.push({ t: Date.now(), status: r.status, name: r.json?.name, msg: r.status === 403 ? r.json?.message : undefined });
      if (r.status !== 200) await sleep(20);
    }
  }
  const loops = Array.from({ length: 20 }, loop);
  while (results.length < 150) await sleep(10);
  killedAt = Date.now();
  await w.redis.stop(); // SIGKILL the primary
  // Run until service is back and then until the cap is reached.
  for (let i = 0; i < 300 && !stop; i++) {
    await sleep(50);
    const after = results.filter((r) => r.t > killedAt);
    const back = after.some((r) => r.status === 200 && after.some((x) => x.status === 503 && x.t < r.t));
    if (back && after.some((r) => r.status === 429)) stop = true;
  }
  stop = true;
  await Promise.all(loops);
  agent.destroy();

  const f403 = results.find((r) => r.status === 403);
  if (f403) console.log(`# first 403: ${f403.name}: ${f403.msg}`);
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] ?? 0) + 1;
  const errs = results.filter((r) => r.status === 503);
  const firstErr = Math.min(...errs.map((r) => r.t));
  const lastErr = Math.max(...errs.map((r) => r.t));
  const firstOkAfter = Math.min(...results.filter((r) => r.status === 200 && r.t > lastErr).map((r) => r.t));
  console.log(`# ${results.length} sends: ${JSON.stringify(by)}; 503s from +${firstErr - killedAt} ms to +${lastErr - killedAt} ms` +
    ` after the kill; service again at +${firstOkAfter - killedAt} ms; Resend received ${w.fake.received.length} (cap ${cap})`);
  assert.deepEqual(Object.keys(by).filter((s) => !['200', '429', '503'].includes(s)), [], 'only 200, 429 and 503');
  assert.ok(by[503] > 0, 'the switch was seen');
  if (!Number.isFinite(firstOkAfter)) {
    console.log(sentinels.map((x) => x.cli('SENTINEL', 'get-master-addr-by-name', 'm').stdout).join(' | '));
    console.log(spawnSync('tail', ['-n', '12', path.join(sentinels[0].dir, 'log')], { encoding: 'utf8' }).stdout);
    console.log(w.proxy.log.split('\n').filter((l) => / (warn|error|info|debug) / .test(l) && !/req_/.test(l)).slice(-15).join('\n'));
  }
  assert.ok(Number.isFinite(firstOkAfter), 'service came back without a restart');
  assert.ok(by[429] > 0, 'the cap was reached after the failover');
  assert.ok(w.fake.received.length <= cap, `no more than the cap was forwarded: ${w.fake.received.length}`);
  assert.equal(by[200], w.fake.received.length);
  assert.equal(w.proxy.proc.exitCode, null, 'sendcapd stayed up');
  // The CLI follows the failover too.
  const shown = w.cli(['key', 'show', k.id, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
});
