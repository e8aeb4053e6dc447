// Scale-out, proven locally: three edge replicas and two router replicas behind nginx
// (round-robin, no stickiness) on loopback, sharing the stack's Redis, runner, auth and registry.
// Fifty SDK client sessions call tools through nginx, so each session's requests land on
// different edges; one edge is killed (SIGKILL) while long calls are in flight. Every session
// keeps working: its calls go on through the other edges, a GET stream that was on the killed
// edge resumes with Last-Event-ID on another, a call cut off with the edge ends with an error
// (and is retried by the client), and no call is answered twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, require, sbctl, startEdge, startRouter, startStack, until } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { CallToolResultSchema, ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');

const SESSIONS = 50;
const CALLS_BEFORE = 3; // echo calls per session before the kill
const CALLS_AFTER = 3; // and after it
const echo = 'everything__echo';
const longRunning = 'everything__trigger-long-running-operation';

let stack;
let nginx;
let nginxDir;
let base;
const edges = []; // { port, origin, pid, stop, kill }
let router2;

function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (fs.existsSync(p)) return p;
  throw new Error('nginx is not installed (tools/dev/install-deps.sh installs nginx-light)');
}

// nginx in front of the edges: round-robin, HTTP/1.1 with keep-alive upstream connections,
// SSE passed through unbuffered; the access log records which edge served each request.
async function startNginx(port) {
  nginxDir = fs.mkdtempSync(path.join(stack.stateDir, 'nginx-'));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(nginxDir, d));
  const conf = `
daemon off;
worker_processes 1;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${nginxDir}/client_body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  log_format edges '$upstream_addr $request_method $status "$http_mcp_session_id" "$http_last_event_id"';
  upstream edges {
${edges.map((e) => `    server 127.0.0.1:${e.port} max_fails=1 fail_timeout=30s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    access_log ${nginxDir}/access.log edges;
    location / {
      proxy_pass http://edges;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_next_upstream error timeout;
    }
  }
}
`;
  fs.writeFileSync(path.join(nginxDir, 'nginx.conf'), conf);
  const log = fs.openSync(path.join(nginxDir, 'stderr.log'), 'a');
  const child = spawn(nginxBinary(), ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf'), '-e', `${nginxDir}/error.log`],
    { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await until('nginx', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${fs.readFileSync(path.join(nginxDir, 'error.log'), 'utf8')}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      return res.ok;
    } catch { return false; }
  });
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function accessLog() {
  return fs.readFileSync(path.join(nginxDir, 'access.log'), 'utf8').trim().split('\n').map((line) => {
    const m = line.match(/^(\S+) (\S+) (\d+) "([^"]*)" "([^"]*)"$/);
    // $upstream_addr lists every edge tried ("a, b" when nginx moved on from a dead one).
    return m && { upstreams: m[1].split(/,\s*/), served: m[1].split(/,\s*/).at(-1), method: m[2],
      status: Number(m[3]), session: m[4] === '-' ? '' : m[4], lastEventId: m[5] === '-' ? '' : m[5] };
  }).filter(Boolean);
}

before(async () => {
  stack = await startStack('it-scaleout');
  const { ports } = stack;
  router2 = await startRouter(stack, 'router2');
  const routers = `127.0.0.1:${ports.SB_ROUTER_PORT},127.0.0.1:${router2.port}`;
  const wireRouters = `127.0.0.1:${ports.SB_ROUTER_WIRE_PORT},127.0.0.1:${router2.wirePort}`;
  for (let i = 0; i < 3; i++) {
    const edge = await startEdge(stack, `edge-scale${i}`, {
      SWITCHBOARD_EDGE_ROUTER_ADDRESS: routers,
      SWITCHBOARD_EDGE_ROUTER_WIRE_ADDRESS: wireRouters,
      SWITCHBOARD_EDGE_SSE_KEEPALIVE_MS: '500',
      SWITCHBOARD_EDGE_SSE_RETRY_MS: '200',
      SWITCHBOARD_EDGE_HEARTBEAT_MS: '300',
    });
    edges.push({ ...edge, port: String(edge.port) });
  }
  const lbPort = await freePort();
  nginx = await startNginx(lbPort);
  base = `http://127.0.0.1:${lbPort}/metamcp/demo/mcp`;
});

after(async () => {
  await nginx?.stop();
  for (const e of edges) await e.stop();
  await router2?.stop();
  stack?.launch('down');
});

// One SDK session through nginx, with every JSON-RPC response it receives counted by id.
async function openSession(n) {
  const client = new Client({ name: `scaleout-${n}`, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(base), {
    requestInit: { headers: { Authorization: `Bearer ${stack.key}` } },
    reconnectionOptions: { initialReconnectionDelay: 200, maxReconnectionDelay: 1000,
      reconnectionDelayGrowFactor: 1.5, maxRetries: 20 },
  });
  const s = { n, client, transport, responses: new Map(), listChanged: 0, errors: [], calls: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { s.listChanged++; });
  await client.connect(transport);
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (message.id !== undefined && message.method === undefined) {
      s.responses.set(message.id, (s.responses.get(message.id) ?? 0) + 1);
    }
    deliver(message, extra);
  };
  s.id = transport.sessionId;
  assert.ok(s.id, 'the session has an id');
  return s;
}

// Calls `name` with `args`; a call that fails (cut off with the killed edge) is retried once,
// and the failure kept. The answer is checked with `check`.
async function call(s, name, args, check) {
  for (let attempt = 0; ; attempt++) {
    s.calls++;
    try {
      const r = await s.client.request({ method: 'tools/call', params: { name, arguments: args } },
        CallToolResultSchema, { timeout: 30_000, onprogress: () => {} });
      check(r);
      return;
    } catch (err) {
      s.errors.push(err.message);
      if (attempt >= 1) throw err;
    }
  }
}

async function echoes(s, phase, count) {
  for (let k = 0; k < count; k++) {
    const message = `session ${s.n} ${phase} ${k}`;
    await call(s, echo, { message }, (r) => assert.equal(r.content[0].text, `Echo: ${message}`));
  }
}

test('50 sessions through 3 edges and 2 routers behind nginx keep working when an edge is killed', async () => {
  const sessions = [];
  for (let n = 0; n < SESSIONS; n++) {
    // nginx takes the edges in turn and a session opens with three requests (initialize,
    // initialized, GET): a probe or two in between puts the GET streams on every edge.
    for (let k = 0; k < n % 3; k++) await (await fetch(new URL('/readyz', base))).body?.cancel();
    sessions.push(await openSession(n));
  }
  // Each session's GET stream is open (its edge listens on the session's channel) before load.
  await until('every GET stream', () => sessions.every((s) =>
    stack.redis('PUBSUB', 'NUMSUB', `sb:sess:${s.id}`).split('\n').at(-1) === '1'));

  await Promise.all(sessions.map((s) => echoes(s, 'before', CALLS_BEFORE)));

  // Long calls (progress on their own SSE streams) in flight on every edge, then one edge dies.
  const long = Promise.all(sessions.map((s) => call(s, longRunning, { duration: 2, steps: 4 },
    (r) => assert.match(r.content[0].text, /^Long running operation completed/))));
  await sleep(700);
  const victim = edges[1];
  await victim.kill();
  await long;
  await Promise.all(sessions.map((s) => echoes(s, 'after', CALLS_AFTER)));

  // The sessions are all still served: a configuration change reaches every one of them on its
  // GET stream (resumed elsewhere where it was on the killed edge).
  const config = JSON.parse(sbctl(stack, 'export', '-o', 'json').out);
  config.toolOverrides = [...(config.toolOverrides ?? []),
    { namespace: 'demo', server: 'everything2', tool: 'echo', disabled: true }];
  const file = path.join(stack.stateDir, 'scaleout-override.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const applied = sbctl(stack, 'apply', '-f', file);
  assert.equal(applied.status, 0, applied.err);
  await until('notifications/tools/list_changed in every session', () =>
    sessions.every((s) => s.listChanged > 0), 20_000);
  const tools = await sessions[0].client.listTools();
  assert.ok(!tools.tools.some((t) => t.name === 'everything2__echo'));

  // No call was answered twice, and every call that failed was cut off by the kill: at most
  // one per session (its long call in flight), and its retry succeeded.
  for (const s of sessions) {
    for (const [id, count] of s.responses) assert.equal(count, 1, `session ${s.n}: id ${id} answered ${count} times`);
    assert.ok(s.errors.length <= 1, `session ${s.n}: ${s.errors.join('; ')}`);
  }
  const failed = sessions.filter((s) => s.errors.length > 0).length;

  // What nginx saw (it logs a request when it ends, so the sessions are closed first): every
  // edge served requests, sessions' calls landed on several edges, and GET streams that were
  // on the killed edge were resumed with Last-Event-ID on another.
  await Promise.all(sessions.map((s) => s.client.close()));
  const victimAddr = `127.0.0.1:${victim.port}`;
  const ids = new Set(sessions.map((s) => s.id));
  const getsOnVictimIn = (lines) => new Set(lines.filter((l) => l.method === 'GET' &&
    l.served === victimAddr && ids.has(l.session)).map((l) => l.session));
  const resumedElsewhere = (lines, id) => lines.some((l) => l.method === 'GET' && l.session === id &&
    l.lastEventId !== '' && l.served !== victimAddr && l.status === 200);
  // nginx notices a client has closed an SSE stream when it next has something to write to it
  // (a keep-alive comes every 500 ms), so a resumed stream's line may come a little after the
  // close: wait for the lines (at most 10 s), then check them.
  let log = [];
  await until('nginx to log the resumed GET streams', () => {
    log = accessLog();
    const moved = getsOnVictimIn(log);
    return moved.size > 0 && [...moved].every((id) => resumedElsewhere(log, id));
  }, 10_000).catch(() => {});
  for (const e of edges) {
    assert.ok(log.some((l) => l.served === `127.0.0.1:${e.port}` && l.method === 'POST'), `edge ${e.port} served POSTs`);
  }
  const edgesOf = new Map();
  for (const l of log) {
    if (l.method !== 'POST' || !ids.has(l.session)) continue;
    if (!edgesOf.has(l.session)) edgesOf.set(l.session, new Set());
    edgesOf.get(l.session).add(l.served);
  }
  const spread = [...edgesOf.values()].filter((set) => set.size >= 2).length;
  assert.ok(spread >= SESSIONS * 0.9, `sessions whose calls used 2+ edges: ${spread}`);
  const getsOnVictim = getsOnVictimIn(log);
  assert.ok(getsOnVictim.size > 0, 'some GET streams were on the killed edge');
  for (const id of getsOnVictim) {
    assert.ok(resumedElsewhere(log, id),
      `session ${id.slice(0, 8)}: its GET stream on the killed edge ${victimAddr} resumed with Last-Event-ID on another edge`);
  }
  console.log(`sessions ${SESSIONS}, calls ${sessions.reduce((a, s) => a + s.calls, 0)}, ` +
    `sessions with a call cut off by the kill ${failed}, GET streams moved ${getsOnVictim.size}; ` +
    `errors seen: ${[...new Set(sessions.flatMap((s) => s.errors))].join(' | ')}`);
});
