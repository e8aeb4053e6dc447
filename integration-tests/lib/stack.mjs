// The whole stack on loopback for the Node integration tests: free ports chosen at start (so a
// test never collides with a stack already up), the local launcher's up/down on a fresh state
// dir, the demo API key, and redis-cli against the stack's Redis.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Loads the TypeScript SDK (and the rest) from tools/npm.
export const require = createRequire(path.join(repo, 'tools/npm/package.json'));

const launcher = path.join(repo, 'deploy/local/switchboard-local');
const portNames = ['SB_EDGE_PORT', 'SB_ROUTER_PORT', 'SB_RUNNER_PORT', 'SB_REGISTRY_PORT',
  'SB_AUTH_PORT', 'SB_PG_PORT', 'SB_REDIS_PORT', 'SB_ROUTER_METRICS_PORT', 'SB_RUNNER_METRICS_PORT',
  'SB_REGISTRY_METRICS_PORT', 'SB_AUTH_METRICS_PORT', 'SB_ROUTER_WIRE_PORT', 'SB_RUNNER_WIRE_PORT'];

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(String(port)));
    });
  });
}

// Starts the stack in $SB_STATE_DIR (else build/<defaultDir>) and asserts the launcher succeeded.
// `up` is the launcher's result, for tests that check what it printed; call launch('down') after.
export async function startStack(defaultDir) {
  const stateDir = process.env.SB_STATE_DIR ?? path.join(repo, 'build', defaultDir);
  const ports = {};
  for (const name of portNames) ports[name] = await freePort();
  const env = { ...process.env, ...ports, SB_STATE_DIR: stateDir };
  const launch = (...args) => spawnSync(launcher, args, { env, encoding: 'utf8', timeout: 240_000 });
  const redis = (...args) =>
    spawnSync('redis-cli', ['-p', ports.SB_REDIS_PORT, ...args], { encoding: 'utf8' }).stdout.trim();
  fs.rmSync(stateDir, { recursive: true, force: true });
  const up = launch('up', '--detach', '--no-install', '--no-build');
  assert.equal(up.status, 0, `launcher failed:\n${up.stderr}\n${up.stdout}`);
  const key = fs.readFileSync(path.join(stateDir, 'demo-api-key'), 'utf8').trim();
  // The admin APIs' credential, for sbctl: pass `adminEnv` as its environment.
  const adminToken = fs.readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim();
  const adminEnv = { ...process.env, SWITCHBOARD_ADMIN_TOKEN: adminToken };
  // The registry's internal calls' credential, which every other service sends.
  const serviceToken = fs.readFileSync(path.join(stateDir, 'service-token'), 'utf8').trim();
  return {
    stateDir, ports, launch, redis, key, up, adminToken, adminEnv, serviceToken,
    edge: `http://127.0.0.1:${ports.SB_EDGE_PORT}`,
  };
}

// Resolves once `check()` is truthy, polling; fails with `what` after `ms`.
export async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Starts one more sb-<service> of the running `stack` as deploy/local/switchboard-local starts
// the first (same config file, same router, auth, registry, service token and Redis, no metrics port; `env`
// overrides any of it), logging to <state>/logs/<name>.log, and waits until `ready(port)` holds. Resolves to
// { port, origin, pid, stop }.
async function startExtra(stack, service, name, env, ready) {
  const port = await freePort();
  const wirePort = service === 'router' ? await freePort() : undefined;
  const { ports, stateDir } = stack;
  const build = process.env.SB_BUILD_DIR ?? path.join(repo, 'build');
  const log = fs.openSync(path.join(stateDir, `logs/${name}.log`), 'a');
  const upper = service.toUpperCase();
  const child = spawn(path.join(build, `services/${service}/sb-${service}`),
    ['--config', path.join(repo, `services/${service}/config/${service}.yaml`)], {
      env: {
        ...process.env,
        [`SWITCHBOARD_${upper}_LISTEN`]: `127.0.0.1:${port}`,
        [`SWITCHBOARD_${upper}_REGISTRY_ADDRESS`]: `127.0.0.1:${ports.SB_REGISTRY_PORT}`,
        [`SWITCHBOARD_${upper}_SERVICE_TOKEN`]: stack.serviceToken,
        // No metrics server: the config file's fixed metrics port may be another stack's.
        [`SWITCHBOARD_${upper}_METRICS_LISTEN`]: '',
        ...(service === 'router' ? {
          SWITCHBOARD_ROUTER_WIRE_LISTEN: `127.0.0.1:${wirePort}`,
          SWITCHBOARD_ROUTER_RUNNER_ADDRESS: `127.0.0.1:${ports.SB_RUNNER_PORT}`,
          SWITCHBOARD_ROUTER_RUNNER_WIRE_ADDRESS: `127.0.0.1:${ports.SB_RUNNER_WIRE_PORT}`,
        } : { [`SWITCHBOARD_${upper}_REDIS_URL`]: `redis://127.0.0.1:${ports.SB_REDIS_PORT}` }),
        ...(service === 'edge' ? {
          SWITCHBOARD_EDGE_ROUTER_ADDRESS: `127.0.0.1:${ports.SB_ROUTER_PORT}`,
          SWITCHBOARD_EDGE_ROUTER_WIRE_ADDRESS: `127.0.0.1:${ports.SB_ROUTER_WIRE_PORT}`,
          SWITCHBOARD_EDGE_AUTH_ADDRESS: `127.0.0.1:${ports.SB_AUTH_PORT}`,
        } : {}),
        ...env,
      },
      stdio: ['ignore', log, log],
    });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await until(`${name} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}); see ${name}.log`);
      return ready(port);
    }, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  // SIGKILL at once: the replica dies as a crashed one does.
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  return { port, wirePort, origin: `http://127.0.0.1:${port}`, pid: child.pid, stop, kill };
}

// True once something accepts connections on 127.0.0.1:`port`.
function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

// Another edge replica of `stack` (see startExtra), ready once its /readyz answers 200.
export function startEdge(stack, name = 'edge2', env = {}) {
  return startExtra(stack, 'edge', name, env, async (port) => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      return res.ok;
    } catch { return false; }
  });
}

// Another auth of `stack` (see startExtra), ready once its port accepts connections.
export function startAuth(stack, name = 'auth2', env = {}) {
  return startExtra(stack, 'auth', name, env, portOpen);
}

// Another router of `stack` (see startExtra): same registry and runner, with its own wire port
// (`wirePort`, for edges' SWITCHBOARD_EDGE_ROUTER_WIRE_ADDRESS), ready once its port accepts
// connections.
export function startRouter(stack, name = 'router2', env = {}) {
  return startExtra(stack, 'router', name, env, portOpen);
}

// Stops the stack's Redis (no save: its keys are gone) and starts it again, on the same port.
export function stopRedis(stack) {
  spawnSync('redis-cli', ['-p', stack.ports.SB_REDIS_PORT, 'shutdown', 'nosave'], { encoding: 'utf8' });
}
export function startRedis(stack) {
  const started = spawnSync(path.join(repo, 'tools/dev/backing.sh'),
    ['start', path.join(stack.stateDir, 'backing'), stack.ports.SB_PG_PORT, stack.ports.SB_REDIS_PORT],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(started.status, 0, `restarting Redis failed:\n${started.stderr}`);
}

// Runs the built sbctl against the stack's registry: { status, out, err }.
export function sbctl(stack, ...args) {
  const build = process.env.SB_BUILD_DIR ?? path.join(repo, 'build');
  const r = spawnSync(path.join(build, 'tools/sbctl/sbctl'),
    ['--registry', `127.0.0.1:${stack.ports.SB_REGISTRY_PORT}`, ...args],
    { encoding: 'utf8', timeout: 60_000, env: stack.adminEnv });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
