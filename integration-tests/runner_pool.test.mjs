// The runner's process pool on a running stack, configured with sbctl: a shared server with
// minProcesses is started warm from config alone; a per-session server gets one process per
// client session (the router passes each call's session to the runner); `sbctl runner drain`
// replaces the warm processes; and after a runner receives SIGTERM, or is killed with SIGKILL,
// no server process is left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, repo, require, sbctl as sbctlOf, startStack, until } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const build = process.env.SB_BUILD_DIR ?? path.join(repo, 'build');
const echo = path.join(build, 'tools/echo-c/sb-echo-c');

let stack;
let workDir;
const clients = [];

const sbctl = (...args) => sbctlOf(stack, '--runner', `127.0.0.1:${stack.ports.SB_RUNNER_PORT}`, ...args);

function processes(server) {
  const r = sbctl('runner', 'ps', '-o', 'json');
  assert.equal(r.status, 0, r.err);
  return (JSON.parse(r.out).processes ?? []).filter((p) => p.server === server);
}

// True while `pid` runs; a zombie (exited, not reaped yet) counts as ended.
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${Number(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

before(async () => {
  stack = await startStack('it-runner-pool');
  workDir = fs.mkdtempSync(path.join(stack.stateDir, 'pool-'));
  const file = path.join(workDir, 'pool.yaml');
  fs.writeFileSync(file, `servers:
  - name: warm
    command: ${JSON.stringify(echo)}
    minProcesses: 2
    maxProcesses: 3
  - name: mine
    command: ${JSON.stringify(echo)}
    isolation: per-session
    maxProcesses: 10
namespaces:
  - name: pool
    servers: [warm, mine]
endpoints:
  - name: pool
    namespace: pool
    enableApiKeyAuth: true
`);
  const applied = sbctl('apply', '-f', file);
  assert.equal(applied.status, 0, applied.err);
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  stack?.launch('down');
});

test('minProcesses are started from the configuration alone, and survive an export', async () => {
  const ready = await until('two warm processes', () => {
    const ps = processes('warm').filter((p) => p.state === 'ready');
    return ps.length === 2 ? ps : null;
  });
  assert.equal(ready[0].isolation, 'shared');
  const exported = sbctl('export');
  assert.equal(exported.status, 0, exported.err);
  assert.match(exported.out, /minProcesses: 2/);
  assert.match(exported.out, /isolation: per-session/);
});

test('a per-session server runs one process per client session', async () => {
  const sessions = [];
  for (let i = 0; i < 2; i++) {
    let client;
    let transport;
    // The new endpoint reaches edge, auth and router through the Watch stream.
    for (let attempt = 0; ; attempt++) {
      client = new Client({ name: `pool-it-${i}`, version: '1.0.0' });
      transport = new StreamableHTTPClientTransport(new URL(`${stack.edge}/metamcp/pool/mcp`),
        { requestInit: { headers: { Authorization: `Bearer ${stack.key}` } } });
      try {
        await client.connect(transport);
        break;
      } catch (e) {
        if (attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    clients.push(client);
    sessions.push(transport.sessionId);
    for (let j = 0; j < 2; j++) {
      const r = await client.callTool({ name: 'mine__echo', arguments: { message: `s${i}-${j}` } });
      assert.equal(r.content[0].text, `Echo: s${i}-${j}`);
    }
  }
  const keyed = processes('mine').filter((p) => p.pid && sessions.includes(p.key));
  assert.deepEqual(keyed.map((p) => p.key).sort(), [...sessions].sort());
  assert.notEqual(keyed[0].pid, keyed[1].pid);
  for (const p of keyed) assert.deepEqual(p.sessions, [p.key]);
});

test('sbctl runner drain replaces the warm processes', async () => {
  const before = processes('warm').map((p) => p.pid);
  const drained = sbctl('runner', 'drain', 'warm');
  assert.equal(drained.status, 0, drained.err);
  assert.equal(drained.out, 'server/warm draining (2 processes)\n');
  await until('fresh warm processes', () => {
    const ps = processes('warm').filter((p) => p.state === 'ready');
    return ps.length === 2 && ps.every((p) => !before.includes(p.pid));
  });
  for (const pid of before) await until(`pid ${pid} to end`, () => !alive(pid));
});

function childrenOf(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

test('after a runner receives SIGTERM, no server process remains', async () => {
  // A second runner on the same registry: it warm-starts minProcesses from the config alone.
  const port = await freePort();
  const runner = spawn(path.join(build, 'services/runner/sb-runner'),
    ['--config', path.join(repo, 'services/runner/config/runner.yaml')], {
      // No metrics server: runner.yaml's fixed metrics port may be another stack's.
      env: { ...process.env, SWITCHBOARD_RUNNER_LISTEN: `127.0.0.1:${port}`,
        SWITCHBOARD_RUNNER_METRICS_LISTEN: '', SWITCHBOARD_RUNNER_WIRE_LISTEN: '',
        SWITCHBOARD_RUNNER_REGISTRY_ADDRESS: `127.0.0.1:${stack.ports.SB_REGISTRY_PORT}`,
        SWITCHBOARD_RUNNER_SERVICE_TOKEN: stack.serviceToken },
      stdio: 'ignore',
    });
  const exited = new Promise((resolve) => runner.on('exit', (code, signal) => resolve({ code, signal })));
  const pids = await until('the second runner\'s warm processes', () => {
    const c = childrenOf(runner.pid);
    return c.length === 2 ? c : null;
  });
  runner.kill('SIGTERM');
  const how = await exited;
  assert.deepEqual(how, { code: 0, signal: null });
  for (const pid of pids) await until(`server pid ${pid} to end`, () => !alive(pid), 10_000);
});

test('after the runner is killed with SIGKILL, no server process remains', async () => {
  const pids = [...processes('warm'), ...processes('mine')].map((p) => p.pid).filter(Boolean);
  assert.ok(pids.length >= 3, JSON.stringify(pids));
  for (const pid of pids) assert.ok(alive(pid), `pid ${pid}`);
  const runner = fs.readFileSync(path.join(stack.stateDir, 'pids', 'runner'), 'utf8').trim();
  process.kill(Number(runner), 'SIGKILL');
  for (const pid of pids) await until(`server pid ${pid} to end`, () => !alive(pid), 10_000);
});
