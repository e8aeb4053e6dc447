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
  'SB_REGISTRY_METRICS_PORT', 'SB_AUTH_METRICS_PORT'];

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
  return { stateDir, ports, launch, redis, key, up, edge: `http://127.0.0.1:${ports.SB_EDGE_PORT}` };
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

// Another sb-edge on a free port, started as deploy/local/switchboard-local starts the first:
// same config file, same router, auth, registry and Redis; `env` adds to its environment. Its
// log is <state>/logs/<name>.log. Returns its origin, pid and stop().
export async function startEdgeReplica(stack, env = {}, name = 'edge2') {
  const port = await freePort();
  const { ports, stateDir } = stack;
  const build = process.env.SB_BUILD_DIR ?? path.join(repo, 'build');
  const log = fs.openSync(path.join(stateDir, `logs/${name}.log`), 'a');
  const child = spawn(path.join(build, 'services/edge/sb-edge'),
    ['--config', path.join(repo, 'services/edge/config/edge.yaml')], {
      env: {
        ...process.env,
        SWITCHBOARD_EDGE_LISTEN: `127.0.0.1:${port}`,
        SWITCHBOARD_EDGE_ROUTER_ADDRESS: `127.0.0.1:${ports.SB_ROUTER_PORT}`,
        SWITCHBOARD_EDGE_AUTH_ADDRESS: `127.0.0.1:${ports.SB_AUTH_PORT}`,
        SWITCHBOARD_EDGE_REGISTRY_ADDRESS: `127.0.0.1:${ports.SB_REGISTRY_PORT}`,
        SWITCHBOARD_EDGE_REDIS_URL: `redis://127.0.0.1:${ports.SB_REDIS_PORT}`,
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
  const origin = `http://127.0.0.1:${port}`;
  try {
    await until('the second edge to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`the second edge exited (${child.exitCode}); see ${name}.log`);
      try {
        const res = await fetch(`${origin}/readyz`);
        await res.body?.cancel();
        return res.ok;
      } catch { return false; }
    }, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { origin, pid: child.pid, stop };
}
