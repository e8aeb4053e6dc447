// The whole stack on loopback, driven by the TypeScript SDK client: five real services talking
// gRPC, a real Postgres holding the config, a real Redis holding the session, and two real
// STDIO MCP servers (@modelcontextprotocol/server-everything) behind the runner.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { require, startStack } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const initialize = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'it', version: '1' } },
});
let stack;
let url;
let key;

before(async () => {
  stack = await startStack('it-stack');
  ({ key } = stack);
  url = `${stack.edge}/metamcp/demo/mcp`;
  assert.ok(stack.up.stdout.includes(`"url": "${url}"`), 'the launcher prints the endpoint in the client config');
  assert.match(key, /^sk_sb_[0-9a-f]{64}$/);
  assert.ok(stack.up.stdout.includes(key), 'the launcher prints the key in the client config');
});

after(() => {
  stack?.launch('down');
});

async function connect(headers) {
  const client = new Client({ name: 'switchboard-it', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

const redis = (...args) => stack.redis(...args);

test('the SDK client lists and calls tools of both servers through one URL', async () => {
  const { client, transport } = await connect({ Authorization: `Bearer ${key}` });
  try {
    assert.ok(transport.sessionId, 'the edge minted a session id');
    assert.equal(redis('EXISTS', `sb:session:${transport.sessionId}`), '1', 'Redis holds the session');

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('everything__echo'), names.join(','));
    assert.ok(names.includes('everything2__echo'), names.join(','));
    assert.equal(names.filter((n) => n.endsWith('__echo')).length, 2);

    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'hello switchboard' } });
    assert.equal(result.content[0].text, 'Echo: hello switchboard');
    const second = await client.callTool({ name: 'everything2__echo', arguments: { message: 'two' } });
    assert.equal(second.content[0].text, 'Echo: two');

    // Concurrent calls on one session keep their answers straight through the id remapping.
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      client.callTool({ name: i % 2 ? 'everything__echo' : 'everything2__echo', arguments: { message: `m${i}` } })));
    many.forEach((r, i) => assert.equal(r.content[0].text, `Echo: m${i}`));

    await assert.rejects(
      client.callTool({ name: 'nosuchserver__echo', arguments: {} }),
      (err) => err.code === -32602 && /Unknown tool/.test(err.message));
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
});

test('the X-API-Key header is accepted too', async () => {
  const res = await fetch(url, { method: 'POST', headers: { ...mcpHeaders, 'X-API-Key': key }, body: initialize });
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('mcp-session-id'));
  const body = await res.json();
  assert.equal(body.result.serverInfo.name, 'switchboard');
});

test('no key or a wrong key gets 401', async () => {
  for (const headers of [mcpHeaders, { ...mcpHeaders, Authorization: 'Bearer sk_sb_wrong' }]) {
    const res = await fetch(url, { method: 'POST', headers, body: initialize });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
  await assert.rejects(connect({}), /401|Unauthorized|authoriz/i);
});

test('a garbage body gets a JSON-RPC parse error', async () => {
  const res = await fetch(url, {
    method: 'POST', headers: { ...mcpHeaders, Authorization: `Bearer ${key}` }, body: 'this is {not json',
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, null);
  assert.equal(body.error.code, -32700);
});

test('an unknown session gets 404 and a missing one 400', async () => {
  const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  const auth = { ...mcpHeaders, Authorization: `Bearer ${key}` };
  let res = await fetch(url, { method: 'POST', headers: { ...auth, 'Mcp-Session-Id': 'f'.repeat(64) }, body: list });
  assert.equal(res.status, 404);
  res = await fetch(url, { method: 'POST', headers: auth, body: list });
  assert.equal(res.status, 400);
});

function descendants(root) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    for (const c of children.get(stack.pop()) ?? []) { out.push(c); stack.push(c); }
  }
  return out;
}

// A zombie (exited, waiting for init to reap it) is not running.
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch { return false; }
}

test('stopping the stack leaves no STDIO server running', () => {
  const runner = Number(fs.readFileSync(path.join(stack.stateDir, 'pids/runner'), 'utf8'));
  const kids = descendants(runner);
  assert.ok(kids.length >= 2, `the runner has STDIO children (found ${kids.length})`);
  const r = stack.launch('down');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!alive(runner), 'runner stopped');
  const left = kids.filter(alive);
  assert.deepEqual(left, [], `STDIO processes left running: ${left.join(',')}`);
});
