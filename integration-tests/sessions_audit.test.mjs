// Sessions admin and the tools/call audit through the whole stack: `sbctl get sessions --user`
// lists a user's live sessions (bound to user and endpoint, their TTL renewed by every use),
// `sbctl delete sessions --user` ends them on every replica (the next request is 404) and
// leaves other users' alone; every tools/call is appended by the edge to a Redis stream,
// drained by the registry into Postgres, and read back by `sbctl audit`, without arguments.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { require, sbctl as sbctlOf, startStack, until } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const demoUser = 'demo@switchboard.local';
const otherUser = 'other@switchboard.local';
const secretArgument = 'audit-never-records-this-9f3c';

let stack;
let otherKey;

const sbctl = (...args) => sbctlOf(stack, ...args);

async function connect(key) {
  const client = new Client({ name: 'switchboard-it-sessions', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.edge}/metamcp/demo/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

function listRequest(key, session) {
  return fetch(`${stack.edge}/metamcp/demo/mcp`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-06-18', Authorization: `Bearer ${key}`, 'Mcp-Session-Id': session,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });
}

function sessionsOf(user) {
  const r = sbctl('get', 'sessions', '--user', user, '-o', 'json');
  assert.equal(r.status, 0, r.err);
  return JSON.parse(r.out).sessions ?? [];
}

before(async () => {
  stack = await startStack('it-sessions-audit');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sess-')), 'users.yaml');
  fs.writeFileSync(file, `users:\n  - email: ${otherUser}\n`);
  const applied = sbctl('apply', '-f', file);
  assert.equal(applied.status, 0, applied.err);
  const created = sbctl('create', 'apikey', '--user', otherUser);
  assert.equal(created.status, 0, created.err);
  otherKey = created.out.trim();
  await until('the new key at auth', async () => {
    const res = await fetch(`${stack.edge}/metamcp/demo/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${otherKey}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    await res.body?.cancel();
    return res.status === 200;
  });
});

after(() => {
  stack?.launch('down');
});

test('a user\'s sessions are listed, renewed by use, and ended by sbctl', async () => {
  const mine = await connect(stack.key);
  const theirs = await connect(otherKey);
  try {
    const id = mine.transport.sessionId;
    assert.match(id, /^[0-9a-f]{64}$/);
    const listed = sessionsOf(demoUser);
    const entry = listed.find((s) => s.id === id);
    assert.ok(entry, `session ${id} not listed: ${JSON.stringify(listed)}`);
    assert.equal(entry.endpoint, 'demo');
    assert.equal(entry.user_email, demoUser);
    assert.ok(Number(entry.expires_in_seconds) > 0);
    assert.ok(!listed.some((s) => s.id === theirs.transport.sessionId), 'only the user\'s own sessions');

    // Sliding expiry: a use renews the time to live.
    stack.redis('EXPIRE', `sb:session:${id}`, '100');
    await mine.client.listTools();
    assert.ok(Number(stack.redis('TTL', `sb:session:${id}`)) > 100, 'the TTL was renewed');

    // Another user presenting the session id gets 404, like an unknown one.
    let res = await listRequest(otherKey, id);
    assert.equal(res.status, 404);
    await res.body?.cancel();

    const ended = sbctl('delete', 'sessions', '--user', demoUser);
    assert.equal(ended.status, 0, ended.err);
    assert.match(ended.out, /^[1-9][0-9]* sessions? of demo@switchboard\.local ended/);
    res = await listRequest(stack.key, id);
    assert.equal(res.status, 404, 'an ended session is gone');
    await res.body?.cancel();
    assert.deepEqual(sessionsOf(demoUser).filter((s) => s.id === id), []);

    // The other user's session goes on.
    assert.ok((await theirs.client.listTools()).tools.length > 0);
    assert.ok(sessionsOf(otherUser).some((s) => s.id === theirs.transport.sessionId));
  } finally {
    await mine.client.close().catch(() => {});
    await theirs.transport.terminateSession().catch(() => {});
    await theirs.client.close();
  }
});

test('sbctl refuses sessions commands without --user', () => {
  const r = sbctl('get', 'sessions');
  assert.equal(r.status, 2);
  assert.match(r.err, /usage: sbctl get sessions --user EMAIL/);
});

test('every tools/call is audited: user, endpoint, tool, outcome, duration; never arguments', async () => {
  const { client, transport } = await connect(otherKey);
  try {
    await client.callTool({ name: 'everything__echo', arguments: { message: secretArgument } });
    await client.callTool({ name: 'everything2__echo', arguments: { message: secretArgument } });
    await assert.rejects(client.callTool({ name: 'nosuchserver__echo', arguments: { message: secretArgument } }));
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
  const calls = await until('three audited calls', () => {
    const r = sbctl('audit', '--user', otherUser, '--since', '1h', '-o', 'json');
    assert.equal(r.status, 0, r.err);
    assert.ok(!r.out.includes(secretArgument), 'arguments are never recorded');
    const got = JSON.parse(r.out).calls ?? [];
    return got.length >= 3 ? got : null;
  }, 30_000);
  assert.equal(calls.length, 3);
  // Newest first.
  assert.deepEqual(calls.map((c) => c.tool), ['nosuchserver__echo', 'everything2__echo', 'everything__echo']);
  assert.deepEqual(calls.map((c) => c.outcome), ['error', 'ok', 'ok']);
  for (const c of calls) {
    assert.equal(c.user_email, otherUser);
    assert.equal(c.endpoint, 'demo');
    assert.ok(Number(c.duration_ms) >= 0);
    assert.ok(Math.abs(Number(c.at_unix_ms) - Date.now()) < 3_600_000);
  }
  // The table, and another user's filter.
  const table = sbctl('audit', '--user', otherUser, '--since', '1h');
  assert.equal(table.status, 0, table.err);
  assert.match(table.out, /^TIME\s+USER\s+ENDPOINT\s+TOOL\s+OUTCOME\s+DURATION/);
  const none = sbctl('audit', '--user', 'nobody@switchboard.local', '-o', 'json');
  assert.deepEqual(JSON.parse(none.out).calls ?? [], []);
  // Drained: nothing is left waiting in the stream.
  await until('the stream to be drained', () => stack.redis('XLEN', 'sb:audit:calls') === '0');
});
