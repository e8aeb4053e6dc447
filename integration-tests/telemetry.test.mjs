// Traces and metrics of the whole stack. Every service exports OTLP/HTTP to a receiver in this
// test, which decodes the payloads with the OpenTelemetry JavaScript packages' own protobuf
// definitions (tools/npm), independent of the C++ encoder. One tools/call must make one trace
// edge → auth → router → runner under the client's traceparent, and the STDIO server must get
// the trace context in params._meta. /metrics of every service is parsed while traffic moves
// the counters; an edge exporting to a dead address still answers and counts its drops. The
// services' JSON log lines (stdout) of a call name the exported spans, the endpoint and the user.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, repo, require, startEdge, startStack, until, sbctl as sbctlOf } from './lib/stack.mjs';

const otlp = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportTraceServiceRequest = otlp.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const SERVER = 2;  // SpanKind (OTLP numbering)
const CLIENT = 3;
const hex = (bytes) => Buffer.from(bytes ?? []).toString('hex');

let stack;
let receiver;
const spans = [];  // every span received: { service, traceId, spanId, parentSpanId, name, kind, attributes }
let requestsReceived = 0;

function attributesOf(list) {
  const out = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue ?? (v.intValue !== undefined && v.intValue !== null ? Number(v.intValue) : undefined)
      ?? v.boolValue ?? v.doubleValue;
  }
  return out;
}

function startReceiver() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' ||
          req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      const request = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
      requestsReceived += 1;
      for (const rs of request.resourceSpans) {
        const service = attributesOf(rs.resource?.attributes)['service.name'];
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              service, traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
              name: s.name, kind: s.kind, attributes: attributesOf(s.attributes),
              start: BigInt(s.startTimeUnixNano.toString()), end: BigInt(s.endTimeUnixNano.toString()),
              status: s.status?.code ?? 0,
            });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// sbctl against the stack's registry, with its admin token.
const sbctl = (...args) => sbctlOf(stack, ...args);

// An MCP session on `origin`'s /metamcp/traced/mcp, spoken in plain HTTP so the test controls
// every header. call() returns the JSON-RPC response.
async function openSession(origin, key = stack.key) {
  const url = `${origin}/metamcp/traced/mcp`;
  const base = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    Authorization: `Bearer ${key}` };
  const post = async (message, headers = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { ...base, ...headers }, body: JSON.stringify(message) });
    const text = await res.text();
    let body = null;
    if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      body = data.find((m) => m.id === message.id) ?? null;
    } else if (text) {
      body = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, body };
  };
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'it-telemetry', version: '1' } } });
  assert.equal(init.status, 200, JSON.stringify(init.body));
  const session = init.headers.get('mcp-session-id');
  assert.ok(session);
  const sessionHeaders = { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-06-18' };
  const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders);
  assert.equal(note.status, 202);
  let nextId = 2;
  return {
    session,
    call: (method, params, headers = {}) =>
      post({ jsonrpc: '2.0', id: nextId++, method, params }, { ...sessionHeaders, ...headers }),
  };
}

// Prometheus text → Map of `name{k="v",…}` (labels sorted) → value.
async function scrape(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  const out = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`).sort().join(',');
    out.set(labels ? `${m[1]}{${labels}}` : m[1], Number(m[4]));
  }
  return out;
}
const sample = (metrics, name, labels = {}) => {
  const key = Object.keys(labels).length
    ? `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}` : name;
  return metrics.get(key) ?? 0;
};
const metricsUrl = (service) => service === 'edge'
  ? `${stack.edge}/metrics`
  : `http://127.0.0.1:${stack.ports[`SB_${service.toUpperCase()}_METRICS_PORT`]}/metrics`;

before(async () => {
  receiver = await startReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${receiver.address().port}`;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
  process.env.OTEL_TRACES_SAMPLER = 'parentbased_always_on';
  // Debug lines: the edge's per-request line and the router's, which a successful call writes.
  process.env.SWITCHBOARD_EDGE_LOG_LEVEL = 'debug';
  process.env.SWITCHBOARD_ROUTER_LOG_LEVEL = 'debug';
  stack = await startStack('it-telemetry');
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.SWITCHBOARD_EDGE_LOG_LEVEL;
  delete process.env.SWITCHBOARD_ROUTER_LOG_LEVEL;
  // The recording STDIO server, alone in its own namespace and endpoint.
  const workDir = fs.mkdtempSync(path.join(stack.stateDir, 'telemetry-'));
  const file = path.join(workDir, 'traced.yaml');
  fs.writeFileSync(file, `servers:
  - name: metaecho
    type: STDIO
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(path.join(repo, 'integration-tests/testdata/meta_echo_server.mjs'))}]
namespaces:
  - name: traced
    servers: [metaecho]
endpoints:
  - name: traced
    namespace: traced
    enableApiKeyAuth: true
`);
  const applied = sbctl('apply', '-f', file);
  assert.equal(applied.status, 0, applied.err + applied.out);
  await until('the traced endpoint to list the recording server', async () => {
    try {
      const { call } = await openSession(stack.edge);
      const listed = await call('tools/list', {});
      return listed.body?.result?.tools?.some((t) => t.name === 'metaecho__meta');
    } catch { return false; }
  }, 30_000);
});

after(async () => {
  stack?.launch('down');
  receiver?.close();
});

const spansOf = (traceId) => spans.filter((s) => s.traceId === traceId);
const only = (list, what) => {
  assert.equal(list.length, 1, `${what}: ${JSON.stringify(list.map((s) => `${s.service}:${s.name}`))}`);
  return list[0];
};

test('one tools/call is one trace from the edge to the STDIO process, under the client\'s traceparent', async () => {
  const clientTrace = crypto.randomBytes(16).toString('hex');
  const clientSpan = crypto.randomBytes(8).toString('hex');
  const { call, session } = await openSession(stack.edge);
  const result = await call('tools/call', { name: 'metaecho__meta', arguments: {} },
    { traceparent: `00-${clientTrace}-${clientSpan}-01`, tracestate: 'client=1' });
  assert.equal(result.status, 200);
  const meta = JSON.parse(result.body.result.content[0].text);

  await until('the runner\'s span of the call', () => spansOf(clientTrace).some((s) => s.service === 'sb-runner'), 20_000);
  // Give the other services' batches the same chance.
  await until('spans from edge, auth and router', () =>
    ['sb-edge', 'sb-auth', 'sb-router'].every((svc) => spansOf(clientTrace).some((s) => s.service === svc)), 10_000);
  const trace = spansOf(clientTrace);
  const edge = only(trace.filter((s) => s.service === 'sb-edge'), 'edge spans');
  const auth = only(trace.filter((s) => s.service === 'sb-auth'), 'auth spans');
  const routed = only(trace.filter((s) => s.service === 'sb-router' && s.kind === SERVER), 'router spans');
  const upstream = only(trace.filter((s) => s.service === 'sb-router' && s.kind === CLIENT), 'upstream spans');
  const runner = only(trace.filter((s) => s.service === 'sb-runner'), 'runner spans');

  assert.equal(edge.parentSpanId, clientSpan, 'the client\'s span is the trace\'s parent');
  assert.equal(edge.kind, SERVER);
  assert.equal(edge.name, 'POST /metamcp/{endpoint}/mcp');
  assert.equal(edge.attributes['mcp.method.name'], 'tools/call');
  assert.equal(edge.attributes['gen_ai.tool.name'], 'metaecho__meta');
  assert.equal(edge.attributes['http.response.status_code'], 200);
  assert.equal(edge.attributes['switchboard.endpoint'], 'traced');
  assert.match(edge.attributes['mcp.session.id'], /^[0-9a-f]{16}$/);
  assert.ok(!session.includes(edge.attributes['mcp.session.id']), 'the session id is hashed');

  assert.equal(auth.parentSpanId, edge.spanId);
  assert.equal(auth.attributes['switchboard.auth.decision'], 'allow');
  assert.equal(routed.parentSpanId, edge.spanId);
  assert.equal(routed.attributes['mcp.method.name'], 'tools/call');
  assert.equal(routed.attributes['gen_ai.tool.name'], 'metaecho__meta');
  assert.equal(upstream.parentSpanId, routed.spanId);
  assert.equal(upstream.attributes['switchboard.server'], 'metaecho');
  assert.equal(upstream.attributes['switchboard.outcome'], 'ok');
  assert.equal(runner.parentSpanId, upstream.spanId);
  assert.equal(runner.attributes['switchboard.server'], 'metaecho');
  assert.ok(runner.attributes['process.pid'] > 0, JSON.stringify(runner.attributes));
  // Children run within their parents.
  for (const [child, parent] of [[auth, edge], [routed, edge], [upstream, routed], [runner, upstream]]) {
    assert.ok(child.start >= parent.start && child.end <= parent.end + 5_000_000n,
      `${child.service}:${child.name} within ${parent.service}:${parent.name}`);
  }

  // The STDIO server saw the runner's span as its parent, with the client's tracestate.
  assert.equal(meta.traceparent, `00-${clientTrace}-${runner.spanId}-01`);
  assert.equal(meta.tracestate, 'client=1');
});

// The JSON log lines of `service` (its stdout and stderr both go to <state>/logs/<service>.log).
function logLines(service) {
  const text = fs.readFileSync(path.join(stack.stateDir, 'logs', `${service}.log`), 'utf8');
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

test('log lines of a tools/call carry the exported spans, the endpoint and the user, never the key', async () => {
  const clientTrace = crypto.randomBytes(16).toString('hex');
  const clientSpan = crypto.randomBytes(8).toString('hex');
  const { call } = await openSession(stack.edge);
  const result = await call('tools/call', { name: 'metaecho__meta', arguments: {} },
    { traceparent: `00-${clientTrace}-${clientSpan}-01` });
  assert.equal(result.status, 200);
  await until('the edge and router spans of the call', () =>
    ['sb-edge', 'sb-router'].every((svc) => spansOf(clientTrace).some((s) => s.service === svc)), 20_000);
  const edgeSpan = only(spansOf(clientTrace).filter((s) => s.service === 'sb-edge'), 'edge spans');
  const routerSpan = only(spansOf(clientTrace).filter((s) => s.service === 'sb-router' && s.kind === SERVER),
    'router spans');

  // The edge writes its request line once the response is out.
  const edgeLine = await until('the edge\'s line of the request', () =>
    logLines('edge').find((l) => l.message === 'http request' && l.trace_id === clientTrace), 10_000);
  for (const key of ['time', 'level', 'service', 'message']) assert.ok(key in edgeLine, `${key} in ${JSON.stringify(edgeLine)}`);
  assert.ok(!('msg' in edgeLine) && !('ts' in edgeLine));
  assert.equal(edgeLine.service, 'edge');
  assert.equal(edgeLine.span_id, edgeSpan.spanId, 'the edge\'s own exported span, not the client\'s');
  assert.notEqual(edgeLine.span_id, clientSpan);
  assert.equal(edgeLine.endpoint, 'traced');
  assert.equal(edgeLine.user, 'demo@switchboard.local');

  const routerLine = logLines('router').find((l) => l.message === 'client request' && l.trace_id === clientTrace);
  assert.ok(routerLine, 'the router logged the call');
  assert.equal(routerLine.service, 'router');
  assert.equal(routerLine.method, 'tools/call');
  assert.equal(routerLine.span_id, routerSpan.spanId);
  assert.equal(routerLine.endpoint, 'traced');
  assert.equal(routerLine.user, 'demo@switchboard.local');

  for (const service of ['edge', 'router', 'auth', 'runner']) {
    const text = fs.readFileSync(path.join(stack.stateDir, 'logs', `${service}.log`), 'utf8');
    assert.ok(!text.includes(stack.key), `${service}.log holds the API key`);
  }
});

test('trace context in params._meta wins over headers and reaches the server with its baggage', async () => {
  const metaTrace = crypto.randomBytes(16).toString('hex');
  const metaSpan = crypto.randomBytes(8).toString('hex');
  const headerTrace = crypto.randomBytes(16).toString('hex');
  const { call } = await openSession(stack.edge);
  const result = await call('tools/call', {
    name: 'metaecho__meta', arguments: {},
    _meta: { traceparent: `00-${metaTrace}-${metaSpan}-01`, baggage: 'user.tier=gold', progressToken: 'p1' },
  }, { traceparent: `00-${headerTrace}-${crypto.randomBytes(8).toString('hex')}-01` });
  assert.equal(result.status, 200);
  const meta = JSON.parse(result.body.result.content[0].text);
  assert.equal(meta.traceparent.split('-')[1], metaTrace);
  assert.equal(meta.baggage, 'user.tier=gold');
  assert.ok(meta.progressToken !== undefined, 'the rest of _meta is kept');
  await until('the edge span of the _meta trace', () => spansOf(metaTrace).some((s) => s.service === 'sb-edge'), 20_000);
  assert.equal(only(spansOf(metaTrace).filter((s) => s.service === 'sb-edge'), 'edge spans').parentSpanId, metaSpan);
  assert.equal(spansOf(headerTrace).length, 0, 'the header\'s trace is not used');
});

test('/metrics on every service moves with the traffic', async () => {
  const before = {};
  for (const svc of ['edge', 'router', 'runner', 'auth', 'registry']) before[svc] = await scrape(metricsUrl(svc));
  const { call } = await openSession(stack.edge);
  for (let i = 0; i < 3; i++) {
    const r = await call('tools/call', { name: 'metaecho__meta', arguments: {} });
    assert.equal(r.status, 200);
  }
  const refused = await fetch(`${stack.edge}/metamcp/traced/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: 'Bearer sk_sb_wrong' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();

  const edge = await scrape(metricsUrl('edge'));
  const calls = { endpoint: 'traced', method: 'tools/call', route: 'mcp', status: '200' };
  assert.equal(sample(edge, 'sb_edge_requests_total', calls) - sample(before.edge, 'sb_edge_requests_total', calls), 3);
  assert.equal(sample(edge, 'sb_edge_request_duration_seconds_count', calls) -
    sample(before.edge, 'sb_edge_request_duration_seconds_count', calls), 3);
  const unauth = { endpoint: 'traced', method: 'ping', route: 'mcp', status: '401' };
  assert.equal(sample(edge, 'sb_edge_requests_total', unauth) - sample(before.edge, 'sb_edge_requests_total', unauth), 1);
  assert.ok(sample(edge, 'sb_edge_sessions_open') >= 1);
  assert.ok(sample(edge, 'sb_otel_spans_total', { outcome: 'exported' }) > 0, 'the edge exported spans');

  const router = await scrape(metricsUrl('router'));
  const upstream = { method: 'tools/call', outcome: 'ok', server: 'metaecho' };
  assert.equal(sample(router, 'sb_router_upstream_requests_total', upstream) -
    sample(before.router, 'sb_router_upstream_requests_total', upstream), 3);
  const latency = { method: 'tools/call', server: 'metaecho' };
  assert.equal(sample(router, 'sb_router_upstream_duration_seconds_count', latency) -
    sample(before.router, 'sb_router_upstream_duration_seconds_count', latency), 3);
  assert.equal(sample(router, 'sb_router_upstream_in_flight', { server: 'metaecho' }), 0);

  const auth = await scrape(metricsUrl('auth'));
  const allowed = { decision: 'allow', endpoint: 'traced' };
  // Each allowed request was either decided by auth or let in on an answer auth let the edge
  // reuse.
  const reused = { endpoint: 'traced' };
  assert.ok(sample(auth, 'sb_auth_decisions_total', allowed) - sample(before.auth, 'sb_auth_decisions_total', allowed) +
    sample(edge, 'sb_edge_auth_reused_total', reused) - sample(before.edge, 'sb_edge_auth_reused_total', reused) >= 4);
  const invalid = { decision: 'unauthenticated', reason: 'invalid API key' };
  assert.equal(sample(auth, 'sb_auth_failures_total', invalid) - sample(before.auth, 'sb_auth_failures_total', invalid), 1);

  const runner = await scrape(metricsUrl('runner'));
  assert.ok(sample(runner, 'sb_runner_processes', { state: 'ready' }) >= 1);
  assert.ok(sample(runner, 'sb_runner_attachments', { server: 'metaecho' }) >= 1);
  assert.equal(sample(runner, 'sb_runner_in_flight', { server: 'metaecho' }), 0);

  // Watch lag: every service converges on the registry's revision.
  const registry = await scrape(metricsUrl('registry'));
  const revision = sample(registry, 'sb_registry_revision');
  assert.ok(revision >= 1);
  for (const svc of ['edge', 'router', 'runner', 'auth']) {
    await until(`${svc} at revision ${revision}`, async () =>
      sample(await scrape(metricsUrl(svc)), 'sb_config_revision') === revision, 10_000);
  }
});

test('an edge exporting to a dead address answers every call and counts the spans it drops', async () => {
  const dead = await freePort();  // nothing listens there
  const replica = await startEdge(stack, 'edge-dead-exporter', {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dead}`,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_BSP_EXPORT_TIMEOUT: '500',
  });
  try {
    const { call } = await openSession(replica.origin);
    for (let i = 0; i < 5; i++) {
      const r = await call('tools/call', { name: 'metaecho__meta', arguments: {} });
      assert.equal(r.status, 200);
      assert.ok(r.body.result.content[0].text.includes('traceparent'), 'still traced');
    }
    // initialize, initialized and five calls: seven edge spans, none of which can be exported.
    await until('the replica to count seven dropped spans', async () =>
      sample(await scrape(`${replica.origin}/metrics`), 'sb_otel_spans_total', { outcome: 'dropped' }) >= 7, 15_000);
    const metrics = await scrape(`${replica.origin}/metrics`);
    assert.equal(sample(metrics, 'sb_otel_spans_total', { outcome: 'exported' }), 0);
  } finally {
    await replica.stop();
  }
});
