// `sendcap webhook add|list|remove` (SPEC §6): the signing secret is shown
// once and stored only sealed; URLs off the machine must be https; a key
// filter names a key that exists; remove and its errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start({ proxies: 0 }); });
after(async () => { await w.stop(); });

test('add prints the secret once; list and Redis never hold it in clear', () => {
  const k = w.issue();
  const add = w.cli(['webhook', 'add', 'http://127.0.0.1:9/hook', '--event', 'key.revoked',
    '--event', 'key.issued', '--key', k.id]);
  assert.equal(add.code, 0, add.stderr);
  const id = add.stdout.match(/added webhook (wh_[A-Za-z0-9]+)/)[1];
  const secret = add.stdout.match(/(whsec_[A-Za-z0-9+/=]+)/)[1];
  assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);

  const list = w.cli(['webhook', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id}\\s+http://127.0.0.1:9/hook\\s+key.revoked,key.issued\\s+${k.id}`));
  const json = w.cli(['webhook', 'list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(json.map((x) => [x.id, x.url, x.events, x.key]),
    [[id, 'http://127.0.0.1:9/hook', 'key.revoked,key.issued', k.id]]);
  for (const out of [list.stdout, JSON.stringify(json), w.redisDump()]) {
    assert.ok(!out.includes(secret.slice(6)), 'the secret is never shown or stored in clear');
  }
  assert.match(w.redis.raw('HGET', `sc:wh:${id}`, 'sealed'), /^v1\./);
  assert.equal(w.redis.raw('HGET', `sc:wh:${id}`, 'family').trim(), k.id);

  // A second add gets its own id and secret.
  const add2 = w.cli(['webhook', 'add', 'https://hooks.example.com/x', '--json']);
  assert.equal(add2.code, 0, add2.stderr);
  const j2 = JSON.parse(add2.stdout);
  assert.match(j2.id, /^wh_/);
  assert.notEqual(j2.secret, secret);
});

test('URL rules at add', () => {
  for (const url of ['http://hooks.example.com/x', 'http://127.0.0.1.evil.example/x', 'ftp://x/y',
    'https://u:p@example.com/x', 'http://10.0.0.1/x']) {
    const r = w.cli(['webhook', 'add', url]);
    assert.equal(r.code, 2, `${url}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /URL/);
  }
  for (const url of ['http://localhost:1/x', 'http://[::1]:1/x', 'https://example.com/x']) {
    assert.equal(w.cli(['webhook', 'add', url]).code, 0, url);
  }
});

test('an unknown key is refused; remove and its errors', () => {
  const r = w.cli(['webhook', 'add', 'https://example.com/x', '--key', 'key_nosuchkey00000000']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no key with id key_nosuchkey00000000/);
  const add = w.cli(['webhook', 'add', 'https://example.com/gone', '--json']);
  const { id } = JSON.parse(add.stdout);
  assert.equal(w.cli(['webhook', 'remove', id]).code, 0);
  assert.ok(!w.cli(['webhook', 'list']).stdout.includes(id));
  assert.equal(w.cli(['webhook', 'remove', id]).code, 3);
  assert.equal(w.cli(['webhook', 'remove', 'sc:keys']).code, 3);
  assert.equal(w.cli(['webhook', 'test', id]).code, 3);
});
