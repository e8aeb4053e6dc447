// OAuth endpoints through the whole stack: an authorization server's JWK Set served by a small
// HTTP server in this test (keys generated here), bearer JWTs checked by auth, the RFC 9728
// metadata document and the WWW-Authenticate challenges at the edge, the TypeScript SDK client
// calling tools with a token, a key rotation picked up on the first token of the new kid, and
// no token or key in any service's log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort, require, sbctl as sbctlOf, startStack } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const initialize = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'it', version: '1' } },
});

function makeKey(kind, kid) {
  const { privateKey, publicKey } = kind === 'EC'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alg = kind === 'EC' ? 'ES256' : 'RS256';
  return { privateKey, kid, alg, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(key, claims, header = {}) {
  const input = `${b64({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })}.${b64(claims)}`;
  const signer = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), signer).toString('base64url')}`;
}

const ecKey = makeKey('EC', 'ec-1');
const rotatedKey = makeKey('RSA', 'rsa-2');
const strangerKey = makeKey('EC', 'ghost');
let published = [ecKey.jwk];
let jwksRequests = 0;
let jwksServer;
let tlsServer;
let tlsJwksRequests = 0;
let tlsDir;
let issuer;
let stack;
const tokens = [];  // every token presented, for the log check
let workDir;

const sbctl = (...args) => sbctlOf(stack, ...args);

const url = (endpoint) => `${stack.edge}/metamcp/${endpoint}/mcp`;
const metadataUrl = (endpoint) => `${stack.edge}/.well-known/oauth-protected-resource/metamcp/${endpoint}/mcp`;

function claims(overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer, aud: url('secure'), sub: 'user-7', email: 'ada@example.com',
    iat: now, nbf: now - 5, exp: now + 600, scope: 'mcp:tools profile', ...overrides,
  };
}

function token(key, overrides = {}, header = {}) {
  const t = sign(key, claims(overrides), header);
  tokens.push(t);
  return t;
}

async function post(endpoint, headers = {}) {
  return fetch(url(endpoint), { method: 'POST', headers: { ...mcpHeaders, ...headers }, body: initialize });
}

before(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  jwksServer = http.createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    jwksRequests += 1;
    res.writeHead(200, { 'Content-Type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise((resolve) => jwksServer.listen(Number(port), '127.0.0.1', resolve));

  // The same keys over https, with a certificate made here that auth is told to trust.
  tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-oauth-tls-'));
  const cert = path.join(tlsDir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '1', '-subj', '/CN=switchboard-test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(tlsDir, 'key.pem'), '-out', cert], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(made.status, 0, made.stderr);
  tlsServer = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(path.join(tlsDir, 'key.pem')) },
    (req, res) => {
      tlsJwksRequests += 1;
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: published }));
    });
  await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  process.env.SWITCHBOARD_AUTH_JWKS_CA_FILE = cert;  // the launcher's services inherit it

  stack = await startStack('it-oauth');
  workDir = fs.mkdtempSync(path.join(stack.stateDir, 'oauth-'));
  const exported = sbctl('export', '-o', 'json');
  assert.equal(exported.status, 0, exported.err);
  const config = JSON.parse(exported.out);
  const oauth = { oauthIssuers: [issuer], oauthJwksUrl: `${issuer}/jwks` };
  config.endpoints.push(
    { name: 'secure', namespace: 'demo', enableApiKeyAuth: false, enableOauth: true, ...oauth,
      oauthRequiredScopes: ['mcp:tools'] },
    { name: 'mixed', namespace: 'demo', enableApiKeyAuth: true, enableOauth: true, ...oauth,
      oauthAudience: 'api://switchboard-it' },
    { name: 'tls', namespace: 'demo', enableApiKeyAuth: false, enableOauth: true, oauthIssuers: [issuer],
      oauthJwksUrl: `https://127.0.0.1:${tlsServer.address().port}/jwks` });
  const file = path.join(workDir, 'oauth.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const applied = sbctl('apply', '-f', file);
  assert.equal(applied.status, 0, applied.err);

  // The endpoints reach auth through Watch: wait (bounded) for the metadata to appear.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(metadataUrl('mixed'));
    if (res.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(() => {
  stack?.launch('down');
  jwksServer?.close();
  tlsServer?.close();
  if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true });
});

test('sbctl export shows the OAuth settings as they were applied', () => {
  const exported = sbctl('export', '-o', 'json');
  assert.equal(exported.status, 0, exported.err);
  const secure = JSON.parse(exported.out).endpoints.find((e) => e.name === 'secure');
  assert.deepEqual(
    { issuers: secure.oauthIssuers, jwks: secure.oauthJwksUrl, scopes: secure.oauthRequiredScopes, aud: secure.oauthAudience },
    { issuers: [issuer], jwks: `${issuer}/jwks`, scopes: ['mcp:tools'], aud: '' });
  const bad = path.join(workDir, 'bad.yaml');
  fs.writeFileSync(bad, 'namespaces: [{name: demo, servers: [everything, everything2]}]\n' +
    'servers: [{name: everything, command: mcp-server-everything}, {name: everything2, command: mcp-server-everything}]\n' +
    'endpoints: [{name: x, namespace: demo, enableOauth: true, oauthJwksUrl: "http://keys.example.com/jwks"}]\n');
  const refused = sbctl('apply', '-f', bad);
  assert.notEqual(refused.status, 0);
  assert.match(refused.err, /endpoints\[0\]\.oauth_jwks_url: 'http:\/\/keys\.example\.com\/jwks' must be an https:\/\/ URL/);
});

test('the RFC 9728 metadata names the resource, the authorization server and the scopes', async () => {
  const res = await fetch(metadataUrl('secure'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.deepEqual(await res.json(), {
    resource: url('secure'),
    authorization_servers: [issuer],
    scopes_supported: ['mcp:tools'],
    bearer_methods_supported: ['header'],
  });
  const mixed = await (await fetch(metadataUrl('mixed'))).json();
  assert.equal(mixed.resource, 'api://switchboard-it');
  assert.equal((await fetch(metadataUrl('demo'))).status, 404, 'an endpoint without OAuth has none');
  assert.equal((await fetch(metadataUrl('nosuch'))).status, 404);
});

test('a request without a token gets 401 naming the metadata', async () => {
  const res = await post('secure');
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl('secure')}"`);
});

test('the SDK client lists and calls tools with a bearer token', async () => {
  const client = new Client({ name: 'oauth-it', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url('secure')),
    { requestInit: { headers: { Authorization: `Bearer ${token(ecKey)}` } } });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'everything__echo'));
    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'with a token' } });
    assert.equal(result.content[0].text, 'Echo: with a token');
    const session = stack.redis('HGETALL', `sb:session:${transport.sessionId}`);
    assert.match(session, /ada@example\.com/, 'the session belongs to the token\'s email');
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
});

test('a token without the required scope gets 403 insufficient_scope', async () => {
  const res = await post('secure', { Authorization: `Bearer ${token(ecKey, { scope: 'profile' })}` });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('www-authenticate'),
    `Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="${metadataUrl('secure')}"`);
  const scp = await post('secure', { Authorization: `Bearer ${token(ecKey, { scope: undefined, scp: ['mcp:tools'] })}` });
  assert.equal(scp.status, 200, 'scp as a list counts too');
});

test('expired, early, foreign, misaddressed, unsigned and tampered tokens get 401 invalid_token', async () => {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'none', kid: 'ec-1' })}.${b64(claims())}.`;
  const good = token(ecKey);
  const [h, p] = good.split('.');
  const tampered = `${h}.${b64(claims({ email: 'admin@example.com' }))}.${good.split('.')[2]}`;
  const hs256Input = `${b64({ alg: 'HS256', kid: 'ec-1' })}.${b64(claims())}`;
  const hs256 = `${hs256Input}.${crypto.createHmac('sha256', JSON.stringify(ecKey.jwk)).update(hs256Input).digest('base64url')}`;
  tokens.push(unsigned, tampered, hs256);
  const cases = {
    expired: token(ecKey, { exp: now - 3600 }),
    'not yet valid': token(ecKey, { nbf: now + 3600 }),
    'wrong issuer': token(ecKey, { iss: 'https://evil.example.com' }),
    'wrong audience': token(ecKey, { aud: url('mixed') }),
    'alg none': unsigned,
    'HS256': hs256,
    tampered,
  };
  for (const [name, t] of Object.entries(cases)) {
    const res = await post('secure', { Authorization: `Bearer ${t}` });
    assert.equal(res.status, 401, name);
    assert.equal(res.headers.get('www-authenticate'),
      `Bearer error="invalid_token", resource_metadata="${metadataUrl('secure')}"`, name);
  }
  assert.ok(p);
  // A token in the query string or X-API-Key is not taken.
  const viaHeader = await post('secure', { 'X-API-Key': good });
  assert.equal(viaHeader.status, 401);
});

test('a rotated key is fetched on its first token; made-up kids do not hammer the JWKS', async () => {
  const before = jwksRequests;
  published = [ecKey.jwk, rotatedKey.jwk];
  const res = await post('secure', { Authorization: `Bearer ${token(rotatedKey)}` });
  assert.equal(res.status, 200, await res.text());
  assert.equal(jwksRequests, before + 1, 'one fetch for the new kid');
  const again = await post('secure', { Authorization: `Bearer ${token(rotatedKey)}` });
  assert.equal(again.status, 200);
  assert.equal(jwksRequests, before + 1, 'the key is held now');
  for (let i = 0; i < 5; i++) {
    const ghost = await post('secure', { Authorization: `Bearer ${token(strangerKey)}` });
    assert.equal(ghost.status, 401);
  }
  assert.ok(jwksRequests <= before + 2, `at most one fetch for the unknown kid (${jwksRequests - before})`);
});

test('keys come over https from a server whose certificate auth trusts', async () => {
  const res = await post('tls', { Authorization: `Bearer ${token(ecKey, { aud: url('tls') })}` });
  assert.equal(res.status, 200, await res.text());
  assert.ok(tlsJwksRequests >= 1, 'auth fetched the keys over TLS');
});

test('API keys keep working on an endpoint that takes keys and tokens', async () => {
  const withKey = await post('mixed', { Authorization: `Bearer ${stack.key}` });
  assert.equal(withKey.status, 200);
  const withToken = await post('mixed', { Authorization: `Bearer ${token(ecKey, { aud: 'api://switchboard-it' })}` });
  assert.equal(withToken.status, 200);
  const wrongKey = await post('mixed', { Authorization: 'Bearer sk_sb_not_a_key' });
  assert.equal(wrongKey.status, 401);
  const none = await post('mixed');
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate'), /resource_metadata=/);
  // The API-key-only demo endpoint still answers as before.
  const demo = await post('demo');
  assert.equal(demo.status, 401);
  assert.equal(demo.headers.get('www-authenticate'), 'Bearer realm="switchboard"');
});

test('no token or key appears in any service log', () => {
  const logDir = path.join(stack.stateDir, 'logs');
  const logs = fs.readdirSync(logDir).filter((f) => f.endsWith('.log'));
  assert.ok(logs.includes('auth.log') && logs.includes('edge.log'), logs.join(','));
  assert.ok(tokens.length > 10);
  for (const file of logs) {
    const text = fs.readFileSync(path.join(logDir, file), 'utf8');
    for (const t of tokens) {
      assert.ok(!text.includes(t), `${file} holds a token`);
      const signature = t.split('.')[2];
      if (signature) assert.ok(!text.includes(signature), `${file} holds a token's signature`);
    }
    assert.ok(!text.includes(stack.key), `${file} holds the API key`);
  }
});
