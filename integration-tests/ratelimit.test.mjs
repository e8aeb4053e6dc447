// Rate limits through the whole stack: one user's limit of 60 requests a minute holds across
// three edge replicas at once (counted in Redis by one script, not per replica); a tool
// override's per-user limit refuses the SDK's fourth call; the legacy transport gets its refusal
// on the SSE stream; Redis stopped mid-test follows each auth's policy (fail-closed: 503,
// fail-open: let through) and both recover when Redis returns. No API key appears in any log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  require, sbctl as sbctlOf, startAuth, startEdge, startRedis, startStack, stopRedis, until,
} from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { SSEClientTransport } = require('@modelcontextprotocol/sdk/client/sse.js');

const limitedUser = 'limited@switchboard.local';
const pingBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const headers = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-06-18',
};

let stack;
let limitedKey;
const extras = []; // edges and auths started by the tests, stopped after

const sbctl = (...args) => sbctlOf(stack, ...args);

// The demo config plus an endpoint `limited` on the same namespace (60 requests a minute per
// user), a second user, and a limit of 3 calls a minute per user for everything__echo.
const config = `
servers:
  - name: everything
    type: STDIO
    command: mcp-server-everything
    args: ["stdio"]
  - name: everything2
    type: STDIO
    command: mcp-server-everything
    args: ["stdio"]
namespaces:
  - name: demo
    servers: [everything, everything2]
endpoints:
  - name: demo
    namespace: demo
    enableApiKeyAuth: true
  - name: limited
    namespace: demo
    enableApiKeyAuth: true
    userRequestsPerMinute: 60
users:
  - email: demo@switchboard.local
  - email: ${limitedUser}
toolOverrides:
  - namespace: demo
    server: everything
    tool: echo
    userRequestsPerMinute: 3
`;

function ping(origin, key, endpoint = 'limited') {
  return fetch(`${origin}/metamcp/${endpoint}/mcp`, {
    method: 'POST', headers: { ...headers, Authorization: `Bearer ${key}` }, body: pingBody,
  });
}

async function status(origin, key, endpoint) {
  const res = await ping(origin, key, endpoint);
  await res.body?.cancel();
  return res.status;
}

before(async () => {
  stack = await startStack('it-ratelimit');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rl-')), 'limits.yaml');
  fs.writeFileSync(file, config);
  const applied = sbctl('apply', '-f', file);
  assert.equal(applied.status, 0, applied.err);
  const created = sbctl('create', 'apikey', '--user', limitedUser, '--name', 'rate-limit-test');
  assert.equal(created.status, 0, created.err);
  limitedKey = created.out.trim();
  // The endpoint and the key reach auth through the Watch stream; the demo user's polling
  // spends only the demo user's own bucket.
  await until('the limited endpoint at auth', async () => (await status(stack.edge, stack.key, 'limited')) === 200);
  await until('the new key at auth', async () => (await status(stack.edge, limitedKey, 'demo')) === 200);
});

after(async () => {
  for (const extra of extras.reverse()) await extra.stop();
  stack?.launch('down');
});

test('60 requests a minute for one user hold across three edge replicas', async (t) => {
  for (const name of ['edge2', 'edge3']) extras.push(await startEdge(stack, name));
  const edges = [stack.edge, extras[0].origin, extras[1].origin];
  stack.redis('DEL', `sb:rl:{limited}:user:${limitedUser}`);
  const perEdge = 50;
  // All 150 at once, so that the burst stays well inside the minute. GCRA lets one more request
  // through per second of it, so a slow machine widens the upper bound by those (the count is
  // asserted, never the time).
  const started = Date.now();
  const results = await Promise.all(edges.map((origin) => Promise.all(
    Array.from({ length: perEdge }, async () => {
      const res = await ping(origin, limitedKey);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    }))));
  const refills = Math.floor((Date.now() - started) / 1000);
  const all = results.flat();
  const allowed = all.filter((r) => r.status === 200);
  const refused = all.filter((r) => r.status === 429);
  assert.equal(allowed.length + refused.length, 3 * perEdge, `other statuses: ${all.map((r) => r.status)}`);
  t.diagnostic(`allowed ${allowed.length}, refused ${refused.length} of ${all.length} (burst refills: ${refills})`);
  assert.ok(allowed.length >= 59 && allowed.length <= 61 + refills,
    `allowed ${allowed.length}, want 60 ± 1 (+${refills} refilled during the burst)`);
  for (const r of refused) {
    assert.match(r.retryAfter ?? '', /^[1-9][0-9]*$/, 'Retry-After is a positive number of seconds');
    assert.ok(Number(r.retryAfter) <= 60);
    assert.equal(r.body.jsonrpc, '2.0');
    assert.equal(r.body.id, 1);
    assert.match(r.body.error.message, /Too Many Requests/);
  }
  // Counted per replica, each would have let all 50 through; the refusals came from more than
  // one replica, so the count is shared.
  assert.ok(results.filter((r) => r.some((x) => x.status === 429)).length >= 2);
  // Another user on the same endpoint has a bucket of their own.
  assert.equal(await status(stack.edge, stack.key, 'limited'), 200);
});

test('a tool override limits each user\'s calls of that tool', async () => {
  stack.redis('DEL', `sb:rl:{demo}:tool:everything/echo:user:${limitedUser}`);
  const client = new Client({ name: 'switchboard-it-ratelimit', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.edge}/metamcp/demo/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${limitedKey}` } },
  });
  await client.connect(transport);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await client.callTool({ name: 'everything__echo', arguments: { message: `m${i}` } });
      assert.equal(r.content[0].text, `Echo: m${i}`);
    }
    await assert.rejects(client.callTool({ name: 'everything__echo', arguments: { message: 'm3' } }),
      (err) => /429|Too Many Requests/.test(String(err?.message ?? err)));
    // Other tools and other requests are not held back by that tool's limit.
    const other = await client.callTool({ name: 'everything2__echo', arguments: { message: 'x' } });
    assert.equal(other.content[0].text, 'Echo: x');
    assert.ok((await client.listTools()).tools.length > 0);
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
});

test('over the limit on the legacy transport: a JSON-RPC error on the SSE stream', async () => {
  // The demo user's echo bucket is emptied first, so the legacy session's fourth call is refused.
  stack.redis('DEL', 'sb:rl:{demo}:tool:everything/echo:user:demo@switchboard.local');
  const client = new Client({ name: 'switchboard-it-ratelimit-sse', version: '1.0.0' });
  const transport = new SSEClientTransport(new URL(`${stack.edge}/metamcp/demo/sse`), {
    requestInit: { headers: { Authorization: `Bearer ${stack.key}` } },
  });
  await client.connect(transport);
  try {
    for (let i = 0; i < 3; i++) {
      await client.callTool({ name: 'everything__echo', arguments: { message: `s${i}` } });
    }
    await assert.rejects(client.callTool({ name: 'everything__echo', arguments: { message: 's3' } }),
      (err) => err.code === -32029 && err.data?.retryAfterSeconds >= 1 && /Too Many Requests/.test(err.message));
    // The session goes on.
    const r = await client.callTool({ name: 'everything2__echo', arguments: { message: 'after' } });
    assert.equal(r.content[0].text, 'Echo: after');
  } finally {
    await client.close();
  }
});

test('Redis stopped: fail-closed refuses limited requests, fail-open lets them through; both recover', async () => {
  // The stack's auth is fail-closed (the launcher's default); a second auth is fail-open, with
  // an edge of its own.
  const openAuth = await startAuth(stack, 'auth-open', { SWITCHBOARD_AUTH_ON_REDIS_UNAVAILABLE: 'fail-open' });
  extras.push(openAuth);
  const openEdge = await startEdge(stack, 'edge-open', { SWITCHBOARD_EDGE_AUTH_ADDRESS: `127.0.0.1:${openAuth.port}` });
  extras.push(openEdge);
  await until('the fail-open auth to have the config', async () => (await status(openEdge.origin, stack.key, 'limited')) === 200);

  stopRedis(stack);
  try {
    assert.equal(await status(stack.edge, stack.key, 'limited'), 503, 'fail-closed');
    assert.equal(await status(openEdge.origin, stack.key, 'limited'), 200, 'fail-open');
    // (A request without limits needs no Redis at auth: its session-less ping passes the edge.)
    assert.equal(await status(stack.edge, stack.key, 'demo'), 200);
  } finally {
    startRedis(stack);
  }
  await until('fail-closed auth to recover', async () => (await status(stack.edge, stack.key, 'limited')) === 200);
  assert.equal(await status(openEdge.origin, stack.key, 'limited'), 200);

  const logs = (name) => fs.readFileSync(path.join(stack.stateDir, 'logs', `${name}.log`), 'utf8');
  assert.match(logs('auth'), /rate limits: redis unreachable.*"policy":"fail-closed"/);
  assert.match(logs('auth-open'), /rate limits: redis unreachable.*"policy":"fail-open"/);
  assert.match(logs('auth'), /rate limits: redis answers again/);
});

test('no API key, admin token or service token appears in any log line', () => {
  const dir = path.join(stack.stateDir, 'logs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
  assert.ok(files.includes('auth.log') && files.includes('edge.log') && files.includes('edge2.log'));
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const secret of [stack.key, limitedKey]) {
      assert.ok(!text.includes(secret), `${file} holds an API key`);
    }
    assert.ok(!text.includes(stack.adminToken), `${file} holds the admin token`);
    assert.ok(!text.includes(stack.serviceToken), `${file} holds the service token`);
    assert.ok(!/sk_sb_[A-Za-z0-9]{8,}/.test(text), `${file} holds something shaped like a key`);
  }
});
