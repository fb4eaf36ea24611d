// Resend's own MCP server (npm `resend-mcp`, pinned in package-lock.json)
// through sendcapd, the way an agent host runs it: a stdio child process
// with a vault key as RESEND_API_KEY and the proxy as RESEND_BASE_URL,
// driven by an MCP client (npm `@modelcontextprotocol/client`).  A tool call
// the proxy allows reaches the fake Resend with the real key; one it refuses
// comes back to the agent as a tool error that names the proxy's reason,
// and nothing of it reaches the fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { World } from '../lib/harness.mjs';

const mcpDir = new URL('./node_modules/resend-mcp/', import.meta.url);
const mcpVersion = JSON.parse(readFileSync(new URL('package.json', mcpDir))).version;
const mcpBin = fileURLToPath(new URL('dist/index.js', mcpDir));

const w = new World();
const clients = [];
before(async () => { await w.start(); });
after(async () => {
  // Closing the transport ends the server process it started.
  for (const c of clients) await c.close();
  await w.stop();
});

// Start resend-mcp exactly as a host's config would: command, args, env.
// The env is explicit (no inherited RESEND_* from the developer's shell),
// and cwd is the world's temp dir so no stray .env is read (it loads
// dotenv/config).
async function startMcp(vaultKey, baseUrl = w.proxy.url) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [mcpBin],
    env: { PATH: process.env.PATH, RESEND_API_KEY: vaultKey, RESEND_BASE_URL: baseUrl },
    cwd: w.dir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'sendcap-test', version: '0' });
  await client.connect(transport);
  clients.push(client);
  client.stderrText = () => stderr;
  return client;
}

const text = (r) => r.content.map((c) => c.text).join('\n');

// A refused call: a tool error (isError, not a protocol error) whose text
// carries the proxy's error name and message, and nothing reached the fake.
async function refused(client, name, args, reason, message) {
  const n = w.fake.received.length;
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, true, `${name}: ${text(r)}`);
  assert.match(text(r), new RegExp(`"name":"${reason}"`), `${name}: ${text(r)}`);
  assert.match(text(r), message, `${name}: ${text(r)}`);
  assert.equal(w.fake.received.length, n, `${name}: nothing reached Resend`);
  return r;
}

test('resend-mcp honours RESEND_BASE_URL: send-email goes through sendcapd with the real key', async () => {
  const k = w.issue(['--to-domain', 'example.com']);
  const client = await startMcp(k.key);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  for (const t of ['send-email', 'send-batch-emails', 'create-api-key', 'send-broadcast']) {
    assert.ok(tools.includes(t), `resend-mcp ${mcpVersion} has no ${t} tool`);
  }

  const n = w.fake.received.length;
  const r = await client.callTool({ name: 'send-email', arguments: {
    from: 'Agent <agent@example.com>', to: ['someone@example.com'], subject: 'from an MCP tool', text: 'hi',
  } });
  assert.notEqual(r.isError, true, text(r));
  assert.match(text(r), /Email sent successfully/);
  assert.equal(w.fake.received.length, n + 1);
  const got = w.fake.received.at(-1);
  assert.equal(got.method, 'POST');
  assert.equal(got.url, '/emails');
  assert.equal(got.headers.authorization, `Bearer ${w.realKey}`);
  assert.equal(got.headers['user-agent'], `resend-mcp:${mcpVersion}`);
  assert.deepEqual(got.json.to, ['someone@example.com']);
  assert.equal(got.json.subject, 'from an MCP tool');
  // The id the fake minted is what the agent is told.
  const id = text(r).match(/"id":"([0-9a-f-]{36})"/)?.[1];
  assert.ok(id, text(r));

  const read = await client.callTool({ name: 'get-email', arguments: { id } });
  assert.notEqual(read.isError, true, text(read));
  assert.equal(w.fake.received.at(-1).url, `/emails/${id}`);

  // A recipient outside the key's to-domain list: refused by the proxy.
  await refused(client, 'send-email', {
    from: 'agent@example.com', to: ['victim@evil.com'], subject: 'x', text: 'x',
  }, 'invalid_to_address', /may not send to evil\.com \(to\[0\]\)/);
  await refused(client, 'send-batch-emails', { emails: [
    { from: 'agent@example.com', to: ['a@example.com'], subject: 'x', text: 'x' },
    { from: 'agent@example.com', to: ['a@example.com'], bcc: ['b@evil.com'], subject: 'y', text: 'y' },
  ] }, 'invalid_to_address', /batch\[1\]\.bcc\[0\]/);
  // No vault key can mint a real key, whatever its scope.
  await refused(client, 'create-api-key', { name: 'escape' }, 'restricted_api_key', /api-keys/);
  assert.ok(!client.stderrText().includes(w.realKey), 'the real key never reaches the MCP server');
});

test('a capped full-scope key: send-broadcast refused, a send past the cap refused, one under it sent', async () => {
  const k = w.issue(['--scope', 'full', '--daily-cap', '2']);
  const client = await startMcp(k.key);
  const send = (to, subject) => client.callTool({ name: 'send-email', arguments: {
    from: 'agent@example.com', to, subject, text: 'hi',
  } });

  let r = await send(['one@example.com'], 'first');
  assert.notEqual(r.isError, true, text(r));

  // Broadcasts go to a segment the proxy cannot count: refused on a
  // capped key even though its scope would allow the route.
  await refused(client, 'send-broadcast', { broadcastId: '49a3999c-0ce1-4ea6-ab68-afcd6dc2e794' },
    'restricted_api_key', /cannot count or check/);
  await refused(client, 'create-api-key', { name: 'escape' }, 'restricted_api_key', /api-keys/);

  // Two recipients would pass the cap of 2 (one used): refused whole.
  await refused(client, 'send-email', {
    from: 'agent@example.com', to: ['a@example.com', 'b@example.com'], subject: 'two', text: 'hi',
  }, 'daily_quota_exceeded', new RegExp(`${k.id} has used 1 of its 2 sends today and this request needs 2`));

  // The refusal reserved nothing: one more recipient still fits.
  const n = w.fake.received.length;
  r = await send(['last@example.com'], 'last');
  assert.notEqual(r.isError, true, text(r));
  assert.equal(w.fake.received.length, n + 1);
  assert.deepEqual(w.fake.received.at(-1).json.to, ['last@example.com']);

  await refused(client, 'send-email', {
    from: 'agent@example.com', to: ['more@example.com'], subject: 'over', text: 'hi',
  }, 'daily_quota_exceeded', /has used 2 of its 2 sends today/);
});

test('a RESEND_BASE_URL with a path prefix and a trailing slash works (the SDK appends the path)', async () => {
  const p = await w.addProxy(['--path-prefix', '/resend/v1']);
  const k = w.issue();
  const client = await startMcp(k.key, `${p.url}/resend/v1/`);
  const n = w.fake.received.length;
  const r = await client.callTool({ name: 'send-email', arguments: {
    from: 'agent@example.com', to: ['someone@example.com'], subject: 'behind a prefix', text: 'hi',
  } });
  assert.notEqual(r.isError, true, text(r));
  assert.equal(w.fake.received.length, n + 1);
  assert.equal(w.fake.received.at(-1).url, '/emails');
  assert.equal(w.fake.received.at(-1).json.subject, 'behind a prefix');
});
