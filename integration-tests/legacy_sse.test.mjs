// The 2024-11-05 HTTP+SSE transport through the whole stack, driven by the TypeScript SDK's
// SSEClientTransport: GET /metamcp/demo/sse, then every POST to the /message URL the edge names,
// with every answer arriving on the SSE stream. Also the Streamable HTTP GET stream: opened by
// the SDK, it is a live event stream with a priming event.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { require, startStack } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { SSEClientTransport } = require('@modelcontextprotocol/sdk/client/sse.js');

let stack;
let base;
let key;
const redis = (...args) => stack.redis(...args);

before(async () => {
  stack = await startStack('it-legacy-sse');
  ({ key } = stack);
  base = `${stack.edge}/metamcp/demo`;
});

after(() => {
  stack?.launch('down');
});

test('SSEClientTransport lists and calls tools over the legacy transport', async () => {
  const client = new Client({ name: 'switchboard-it-sse', version: '1.0.0' });
  const transport = new SSEClientTransport(new URL(`${base}/sse`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  try {
    const session = transport._endpoint.searchParams.get('sessionId');
    assert.match(session, /^[0-9a-f]{64}$/);
    assert.equal(transport._endpoint.pathname, '/metamcp/demo/message');
    assert.equal(redis('HGET', `sb:session:${session}`, 'transport'), 'sse');

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('everything__echo'), names.join(','));

    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'over sse' } });
    assert.equal(result.content[0].text, 'Echo: over sse');

    const many = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      client.callTool({ name: 'everything__echo', arguments: { message: `m${i}` } })));
    many.forEach((r, i) => assert.equal(r.content[0].text, `Echo: m${i}`));
    assert.ok(Number(redis('XLEN', `sb:events:${session}`)) >= 13, 'answers went through the Redis stream');
  } finally {
    await client.close();
  }
});

test('the legacy endpoints refuse a missing key and an unknown session', async () => {
  let res = await fetch(`${base}/sse`, { headers: { Accept: 'text/event-stream' } });
  assert.equal(res.status, 401);
  await res.body?.cancel();
  res = await fetch(`${base}/message?sessionId=${'f'.repeat(64)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(res.status, 404);
});

test('a Streamable HTTP session opens a GET event stream that starts with a priming event', async () => {
  const headers = {
    'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    Authorization: `Bearer ${key}`,
  };
  const init = await fetch(`${base}/mcp`, {
    method: 'POST', headers, body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'it', version: '1' } },
    }),
  });
  assert.equal(init.status, 200);
  const session = init.headers.get('mcp-session-id');
  await init.text();
  const controller = new AbortController();
  const res = await fetch(`${base}/mcp`, {
    headers: { Accept: 'text/event-stream', Authorization: `Bearer ${key}`, 'Mcp-Session-Id': session },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body.getReader();
  const { value } = await reader.read();
  const text = new TextDecoder().decode(value);
  assert.match(text, /^id: [0-9]+-[0-9]+\nretry: [0-9]+\ndata: \n\n/);
  controller.abort();
  const del = await fetch(`${base}/mcp`, { method: 'DELETE', headers: { ...headers, 'Mcp-Session-Id': session } });
  assert.equal(del.status, 204);
});
