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
  // The admin APIs' credential, for sbctl: pass `adminEnv` as its environment.
  const adminToken = fs.readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim();
  const adminEnv = { ...process.env, SWITCHBOARD_ADMIN_TOKEN: adminToken };
  return {
    stateDir, ports, launch, redis, key, up, adminToken, adminEnv,
    edge: `http://127.0.0.1:${ports.SB_EDGE_PORT}`,
  };
}
