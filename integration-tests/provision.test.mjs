// The MetaMCP chart's example `provision:` block (its README's values, as in
// charts/switchboard/examples/metamcp-values.yaml) applied with sbctl to a running stack: one
// STDIO server, one Streamable HTTP server and one SSE server (server-everything in each mode,
// started here on loopback instead of by the chart), a namespace holding all three and an
// endpoint; the merged tools listed through the edge by the TypeScript SDK client. Then: an
// upstream that never answers leaves the list partial instead of stalling it; a prune removes a
// server and a connected session is told (list_changed) and no longer sees its tools; export
// then apply --dry-run changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, repo, require, sbctl as sbctlOf, startStack, until } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
const YAML = require('yaml');

const everything = path.join(repo, 'tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

let stack;
let children = [];
let hang;
let ports = {};
let workDir;

// A server-everything process in `mode` on `port`, stopped in after().
async function startEverything(mode, port) {
  const child = spawn(process.execPath,
    ['--require', path.join(repo, 'services/router/src/testdata/loopback_listen.cjs'), everything, mode],
    { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 150; i++) {
    const open = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => { res.resume(); resolve(true); });
      req.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server-everything ${mode} did not listen on ${port}`);
}

const sbctl = (...args) => sbctlOf(stack, ...args);

// The example's provision block with the chart-deployed servers given loopback URLs, the
// STDIO server's `npx -y …` replaced by the locally installed binary (no downloads here), and
// `extra` servers added to the lab namespace.
function provision({ withSse = true, extra = [] } = {}) {
  const servers = [
    `    - name: stdio-everything
      type: STDIO
      command: "mcp-server-everything"
      args: ["stdio"]`,
    `    - name: http-everything
      type: STREAMABLE_HTTP
      url: "http://127.0.0.1:${ports.http}/mcp"`,
  ];
  const members = ['stdio-everything', 'http-everything'];
  if (withSse) {
    servers.push(`    - name: sse-everything
      type: SSE
      url: "http://127.0.0.1:${ports.sse}/sse"`);
    members.push('sse-everything');
  }
  for (const e of extra) {
    servers.push(e.yaml);
    members.push(e.name);
  }
  return `provision:
  enabled: true
  servers:
${servers.join('\n')}
  namespaces:
    - name: lab
      description: "Sandbox tools"
      servers: [${members.map((m) => JSON.stringify(m)).join(',')}]
  endpoints:
    - name: lab
      namespace: lab
      description: "Public lab endpoint"
      transport: SSE
      enableApiKeyAuth: true
      useQueryParamAuth: false
      enableOauth: false
`;
}

function apply(yaml, ...flags) {
  const file = path.join(workDir, `apply-${Date.now()}-${Math.random().toString(16).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml);
  return sbctl('apply', '-f', file, ...flags);
}

// The whole configuration as sbctl exports it, changed by `edit`, applied with --mode prune (so
// what `edit` removed is deleted, and everything else, the demo's user and key included, stays).
function pruneTo(edit) {
  const exported = sbctl('export', '-o', 'json');
  assert.equal(exported.status, 0, exported.err);
  const config = JSON.parse(exported.out);
  edit(config);
  return apply(JSON.stringify(config), '--mode', 'prune');
}

function withoutServer(config, name) {
  config.servers = config.servers.filter((s) => s.name !== name);
  for (const ns of config.namespaces ?? []) {
    ns.servers = ns.servers.filter((m) => (typeof m === 'string' ? m : m.name) !== name);
  }
}

async function connect() {
  const client = new Client({ name: 'provision-it', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.edge}/metamcp/lab/mcp`),
    { requestInit: { headers: { Authorization: `Bearer ${stack.key}` } } });
  await client.connect(transport);
  return client;
}

async function toolNames(client) {
  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

before(async () => {
  // A short per-upstream list timeout, so the hanging upstream costs seconds, not the default 15.
  process.env.SWITCHBOARD_ROUTER_LIST_TIMEOUT_MS = '3000';
  // auth reports key use every 0.3 s instead of every 30 s.
  process.env.SWITCHBOARD_AUTH_KEY_USE_REPORT_MS = '300';
  // The edge may reuse auth's answers for a minute: only a configuration change (or the key's
  // expiry) can end them in time for the tests below.
  process.env.SWITCHBOARD_AUTH_DECISION_REUSE_MS = '60000';
  stack = await startStack('it-provision');
  workDir = fs.mkdtempSync(path.join(stack.stateDir, 'provision-'));
  ports = { http: Number(await freePort()), sse: Number(await freePort()), hang: Number(await freePort()) };
  await startEverything('streamableHttp', ports.http);
  await startEverything('sse', ports.sse);
  // Accepts connections and requests, and never answers one.
  hang = http.createServer(() => {});
  await new Promise((r) => hang.listen(ports.hang, '127.0.0.1', r));
});

after(async () => {
  for (const c of children) c.kill('SIGTERM');
  hang?.closeAllConnections?.();
  hang?.close();
  stack?.launch('down');
});

test('the MetaMCP example provision block applies and its three servers list through one URL', async () => {
  const applied = apply(provision());
  assert.equal(applied.status, 0, applied.err + applied.out);
  const client = await connect();
  try {
    let names = [];
    await until('the three servers\' tools', async () => {
      names = await toolNames(client);
      return ['stdio-everything', 'http-everything', 'sse-everything']
        .every((s) => names.includes(`${s}__echo`));
    });
    for (const server of ['stdio-everything', 'http-everything', 'sse-everything']) {
      const r = await client.callTool({ name: `${server}__echo`, arguments: { message: server } });
      assert.equal(r.content[0].text, `Echo: ${server}`);
    }
  } finally {
    await client.close();
  }
});

test('apply refuses a rename onto a name another tool is listed under, and names the fix', async () => {
  // The router told the registry each server's tool names when it listed them (the test above);
  // the report is asynchronous, so the dry run is repeated until the check has the names.
  const withClash = (config) => {
    config.toolOverrides = [...(config.toolOverrides ?? []),
      { namespace: 'lab', server: 'stdio-everything', tool: 'echo', name: 'http-everything__echo' }];
  };
  const exported = JSON.parse(sbctl('export', '-o', 'json').out);
  withClash(exported);
  let refused;
  await until('the name check', () => {
    refused = apply(JSON.stringify(exported), '--dry-run');
    return refused.status !== 0;
  });
  assert.match(refused.err, /namespaces\[lab\]: tool 'echo' of server 'http-everything' would be listed as 'http-everything__echo', the name tool 'stdio-everything\/echo' already has; rename one with a tool override, e\.g\. \{namespace: lab, server: http-everything, tool: echo, name: http-everything__echo_2\}/);
  assert.equal(refused.err.trim().split('\n').length, 1, refused.err);
  // Without --dry-run nothing is written either.
  const real = apply(JSON.stringify(exported));
  assert.notEqual(real.status, 0);
  const after = JSON.parse(sbctl('export', '-o', 'json').out);
  assert.ok(!(after.toolOverrides ?? []).some((o) => o.name === 'http-everything__echo'));
});

test('an upstream that never answers leaves the merged list partial, not stalled', async () => {
  const hangYaml = `    - name: hang
      type: STREAMABLE_HTTP
      url: "http://127.0.0.1:${ports.hang}/mcp"`;
  const applied = apply(provision({ extra: [{ name: 'hang', yaml: hangYaml }] }));
  assert.equal(applied.status, 0, applied.err + applied.out);
  const client = await connect();
  try {
    const names = await toolNames(client);
    assert.ok(names.includes('stdio-everything__echo'), names.join(','));
    assert.ok(names.includes('http-everything__echo'), names.join(','));
    assert.ok(!names.some((n) => n.startsWith('hang__')), names.join(','));
  } finally {
    await client.close();
  }
  const restored = pruneTo((config) => withoutServer(config, 'hang'));
  assert.equal(restored.status, 0, restored.err + restored.out);
  assert.match(restored.out, /^- server\/hang \(removed\)$/m);
});

test('a prune removes a server and a connected session is told, then no longer sees its tools', async () => {
  const client = await connect();
  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
  try {
    const before = await toolNames(client);
    assert.ok(before.includes('sse-everything__echo'), before.join(','));
    // The SDK opens the session's GET stream after initialize; list_changed arrives on it, so
    // it must be open (the edge subscribes to the session's channel) before the prune.
    const session = client.transport.sessionId;
    assert.ok(session);
    await until('the GET stream', () =>
      stack.redis('PUBSUB', 'NUMSUB', `sb:sess:${session}`).split('\n').at(-1) === '1');
    const pruned = pruneTo((config) => withoutServer(config, 'sse-everything'));
    assert.equal(pruned.status, 0, pruned.err + pruned.out);
    assert.match(pruned.out, /^- server\/sse-everything \(removed\)$/m);
    assert.match(pruned.out, /^~ namespace\/lab /m);
    await until('notifications/tools/list_changed', () => changed > 0);
    const after = await toolNames(client);
    assert.ok(!after.some((n) => n.startsWith('sse-everything__')), after.join(','));
    assert.ok(after.includes('http-everything__echo'), after.join(','));
    const call = await client.callTool({ name: 'sse-everything__echo', arguments: { message: 'x' } })
      .then((r) => r, (e) => e);
    assert.ok(call instanceof Error || call.isError, 'a removed server\'s tool cannot be called');
  } finally {
    await client.close();
  }
});

test('export then apply --dry-run changes nothing', () => {
  const exported = sbctl('export');
  assert.equal(exported.status, 0, exported.err);
  assert.ok(YAML.parse(exported.out).servers.some((s) => s.name === 'stdio-everything'));
  const again = apply(exported.out, '--dry-run');
  assert.equal(again.status, 0, again.err + again.out);
  assert.match(again.out, /^0 added, 0 changed, 0 removed, \d+ unchanged/m);
  assert.doesNotMatch(again.out, /^[+~-] /m);
});

test('sbctl shows the runner\'s processes and a server\'s stderr', () => {
  const runner = ['--runner', `127.0.0.1:${stack.ports.SB_RUNNER_PORT}`];
  const ps = sbctl(...runner, 'runner', 'ps');
  assert.equal(ps.status, 0, ps.err);
  assert.match(ps.out, /^stdio-everything\s+\d+\s+ready\s/m);
  const logs = sbctl(...runner, 'logs', 'server', 'stdio-everything', '--lines', '5');
  assert.equal(logs.status, 0, logs.err);
  assert.match(logs.out, /Starting default \(STDIO\) server/);
  const unknown = sbctl(...runner, 'logs', 'server', 'never-run');
  assert.equal(unknown.status, 1);
  assert.match(unknown.err, /never-run/);
});

// initialize on `endpoint` with `key`: the HTTP status.
async function initializeStatus(endpoint, key) {
  const res = await fetch(`${stack.edge}/metamcp/${endpoint}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'it', version: '1' } } }),
  });
  await res.text();
  return res.status;
}

test('API keys made with sbctl: scoped to their endpoints, and expiring', async () => {
  const users = sbctl('get', 'users', '-o', 'json');
  assert.equal(users.status, 0, users.err);
  const user = ['--user', JSON.parse(users.out).users[0].email];  // the demo's user
  const scoped = sbctl('create', 'apikey', ...user, '--endpoints', 'demo');
  assert.equal(scoped.status, 0, scoped.err);
  const scopedKey = scoped.out.trim();
  const expiring = sbctl('create', 'apikey', ...user, '--expires-in', '3s');
  assert.equal(expiring.status, 0, expiring.err);
  const expiringKey = expiring.out.trim();
  // Keys reach auth through the Watch stream.
  await until('the new keys at auth', async () => (await initializeStatus('demo', scopedKey)) === 200);
  assert.equal(await initializeStatus('lab', scopedKey), 403, 'a key scoped to demo is refused on lab');
  assert.equal(await initializeStatus('lab', expiringKey), 200);
  await until('the key to expire', async () => (await initializeStatus('lab', expiringKey)) === 401);
});

// The registry revision of the configuration a service holds (sb_config_revision at `url`).
async function configRevision(url) {
  const text = await (await fetch(url)).text();
  const m = text.match(/^sb_config_revision (\S+)$/m);
  assert.ok(m, `no sb_config_revision at ${url}`);
  return Number(m[1]);
}

test('a deleted API key is refused as soon as the edge and auth have the change', async () => {
  const users = sbctl('get', 'users', '-o', 'json');
  assert.equal(users.status, 0, users.err);
  const user = ['--user', JSON.parse(users.out).users[0].email];
  const created = sbctl('create', 'apikey', ...user, '--name', 'revoked-soon', '-o', 'json');
  assert.equal(created.status, 0, created.err);
  const { id, key } = JSON.parse(created.out);
  await until('the new key at auth', async () => (await initializeStatus('lab', key)) === 200);
  // Allowed just now: the edge may give that answer again for the next minute.
  assert.equal(await initializeStatus('lab', key), 200);
  const metrics = [`${stack.edge}/metrics`, `http://127.0.0.1:${stack.ports.SB_AUTH_METRICS_PORT}/metrics`];
  const before = await configRevision(metrics[0]);
  const deleted = sbctl('delete', 'apikey', id);
  assert.equal(deleted.status, 0, deleted.err);
  await until('the deletion at the edge and auth', async () =>
    (await configRevision(metrics[0])) > before && (await configRevision(metrics[1])) > before, 10_000);
  assert.equal(await initializeStatus('lab', key), 401);
});

test('sbctl shows when each API key was last used', async () => {
  const listedKeys = () => {
    const r = sbctl('get', 'apikeys', '-o', 'json');
    assert.equal(r.status, 0, r.err);
    return JSON.parse(r.out).apikeys;
  };
  // The demo key has been used by every test above.
  await until('the demo key\'s last use', () => listedKeys().some((k) =>
    stack.key.startsWith(k.prefix) && Number(k.last_used_unix ?? k.lastUsedUnix ?? 0) > 0));
  const table = sbctl('get', 'apikeys');
  assert.equal(table.status, 0, table.err);
  assert.match(table.out, /LAST USED/);
  assert.match(table.out, /\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\s*$/m);
});

