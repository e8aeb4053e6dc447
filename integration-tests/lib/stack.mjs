// The whole stack on loopback for the Node integration tests: free ports chosen at start (so a
// test never collides with a stack already up), the local launcher's up/down on a fresh state
// dir, the demo API key, and redis-cli against the stack's Redis.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Loads the TypeScript SDK (and the rest) from tools/npm.
export const require = createRequire(path.join(repo, 'tools/npm/package.json'));

const launcher = path.join(repo, 'deploy/local/switchboard-local');
const portNames = ['SB_EDGE_PORT', 'SB_ROUTER_PORT', 'SB_RUNNER_PORT', 'SB_REGISTRY_PORT',
  'SB_AUTH_PORT', 'SB_PG_PORT', 'SB_REDIS_PORT'];

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

// Starts one more replica of `service` ('edge', 'router') beside the stack, as the launcher
// starts its own (same config file; `env` overrides, e.g. its LISTEN address), logging to
// logs/<logName>.log. Resolves once it serves: the edge's /readyz answers, or `port` accepts
// connections. Returns { pid, stop() (SIGTERM, SIGKILL after 5 s), kill() (SIGKILL at once) }.
export async function startService(stack, service, env, logName, { port, readyUrl } = {}) {
  const { spawn } = await import('node:child_process');
  const build = process.env.SB_BUILD_DIR ?? path.join(repo, 'build');
  const log = fs.openSync(path.join(stack.stateDir, `logs/${logName}.log`), 'a');
  const child = spawn(path.join(build, `services/${service}/sb-${service}`),
    ['--config', path.join(repo, `services/${service}/config/${service}.yaml`)],
    { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    if (gone()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (gone()) return;
    child.kill('SIGKILL');
    await exited;
  };
  const serving = async () => {
    if (readyUrl) {
      try {
        const res = await fetch(readyUrl);
        await res.body?.cancel();
        return res.ok;
      } catch { return false; }
    }
    return new Promise((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone()) throw new Error(`sb-${service} (${logName}) exited; see logs/${logName}.log`);
    if (await serving()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sb-${service} (${logName}) did not start; see logs/${logName}.log`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid, stop, kill };
}
