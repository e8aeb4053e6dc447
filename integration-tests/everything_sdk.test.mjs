// @modelcontextprotocol/server-everything (STDIO, behind the runner) through the whole stack,
// driven by the TypeScript SDK's Client over both HTTP transports: progress notifications of a
// long-running tool, a sampling request relayed to the client and answered, and (Streamable
// HTTP) resumption with Last-Event-ID after the client's connection is cut — on the same edge
// and on a second edge replica sharing the stack's Redis.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, repo, require, startEdgeReplica, startStack, until } from './lib/stack.mjs';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { SSEClientTransport } = require('@modelcontextprotocol/sdk/client/sse.js');
const {
  CallToolResultSchema, CreateMessageRequestSchema, ResourceUpdatedNotificationSchema,
} = require('@modelcontextprotocol/sdk/types.js');

const longRunning = 'everything__trigger-long-running-operation';
const sampling = 'everything__trigger-sampling-request';
const toggleUpdates = 'everything__toggle-subscriber-updates';
const watchedUri = 'demo://resource/static/document/architecture.md';
const samplingAnswer = 'the switchboard test client answers: 42';

let stack;
let base;
let key;
let replica; // the second sb-edge, started by the second-replica test

before(async () => {
  stack = await startStack('it-everything-sdk');
  ({ key } = stack);
  base = `${stack.edge}/metamcp/demo`;
});

after(async () => {
  await replica?.stop();
  stack?.launch('down');
});

// Redis stream entry ids ("<ms>-<seq>") in order.
function compareIds(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

// A fetch for the SDK that sees every SSE event it hands over (per response stream), can cut
// the client's side of a stream as a dropped connection would, can hold a GET that resumes
// with Last-Event-ID until the test lets it through, and can send that GET to another origin
// (another edge replica behind the same load balancer).
function tappedFetch() {
  const net = {
    streams: [], // { method, url, lastEventId, status, events: [{ id, data }], cut() }
    holdResume: null, // async (request) => void, awaited before a resuming GET is sent
    resumeOrigin: null, // origin that a resuming GET goes to instead
    fetch: async (url, init = {}) => {
      const method = init.method ?? 'GET';
      const headers = new Headers(init.headers);
      const lastEventId = headers.get('last-event-id') ?? undefined;
      let target = new URL(url);
      if (method === 'GET' && lastEventId !== undefined) {
        if (net.holdResume) await net.holdResume({ lastEventId });
        if (net.resumeOrigin) target = new URL(target.pathname + target.search, net.resumeOrigin);
      }
      const res = await fetch(target, init);
      if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return res;
      const stream = { method, url: target.href, lastEventId, status: res.status, events: [] };
      net.streams.push(stream);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let controller;
      const parse = () => {
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { id: undefined, data: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) event.id = line.slice(3).trim();
            else if (line.startsWith('data:')) event.data.push(line.slice(5).replace(/^ /, ''));
          }
          if (event.id !== undefined || event.data.length) stream.events.push({ id: event.id, data: event.data.join('\n') });
        }
      };
      stream.cut = () => {
        stream.wasCut = true;
        try { controller.error(new TypeError('connection cut by the test')); } catch { /* closed */ }
        reader.cancel().catch(() => {});
      };
      const body = new ReadableStream({
        start(c) { controller = c; },
        async pull(c) {
          try {
            const { value, done } = await reader.read();
            if (stream.wasCut) return;
            if (done) { c.close(); return; }
            buffer += decoder.decode(value, { stream: true });
            parse();
            c.enqueue(value);
          } catch (err) {
            try { c.error(err); } catch { /* already errored */ }
          }
        },
        cancel(reason) { return reader.cancel(reason); },
      });
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
  };
  return net;
}

// An SDK client (declaring sampling, answering every sampling/createMessage with a fixed text)
// connected over `kind`. `wire` lists what the transport received, in order.
//
// The SDK runs notification handlers a microtask later but responses at once, so when the last
// progress notification and the result arrive in one chunk (SSEClientTransport dispatches a
// chunk's events in one go) the result wins and that progress is dropped client-side. Responses
// are therefore handed to the Client one macrotask later; `wire` still records the real order.
async function connect(kind, { net } = {}) {
  const client = new Client({ name: 'switchboard-it-everything', version: '1.0.0' },
    { capabilities: { sampling: {} } });
  const samplingRequests = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    samplingRequests.push(request.params);
    return {
      role: 'assistant', model: 'switchboard-it', stopReason: 'endTurn',
      content: { type: 'text', text: samplingAnswer },
    };
  });
  const requestInit = { headers: { Authorization: `Bearer ${key}` } };
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(`${base}/sse`), { requestInit })
    : new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit, fetch: net?.fetch });
  await client.connect(transport);
  const wire = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    wire.push(message);
    if ('result' in message || 'error' in message) setImmediate(() => deliver(message, extra));
    else deliver(message, extra);
  };
  const close = async () => {
    if (kind !== 'sse') await transport.terminateSession().catch(() => {});
    await client.close();
  };
  return { client, transport, wire, samplingRequests, close };
}

for (const kind of ['streamable-http', 'sse']) {
  test(`${kind}: every progress notification of a long-running tool, then its result`, async () => {
    const { client, wire, close } = await connect(kind);
    try {
      const { tools } = await client.listTools();
      const tool = tools.find((t) => t.name === longRunning);
      assert.ok(tool, `${longRunning} is listed`);
      assert.ok(tool.inputSchema.properties.steps && tool.inputSchema.properties.duration);

      const steps = 5;
      const progress = [];
      const result = await client.callTool({ name: longRunning, arguments: { duration: 1, steps } },
        CallToolResultSchema, { onprogress: (p) => progress.push(p), timeout: 30_000 });
      assert.equal(result.content[0].text,
        `Long running operation completed. Duration: 1 seconds, Steps: ${steps}.`);
      assert.deepEqual(progress, Array.from({ length: steps }, (_, i) => ({ progress: i + 1, total: steps })));
      // On the wire: the progress notifications (with the client's own token), then the result.
      const seen = wire.filter((m) => m.method === 'notifications/progress' || 'result' in m || 'error' in m)
        .map((m) => (m.method ? `progress ${m.params.progress}` : 'result'));
      assert.deepEqual(seen.slice(-(steps + 1)),
        [...Array.from({ length: steps }, (_, i) => `progress ${i + 1}`), 'result']);
    } finally {
      await close();
    }
  });

  test(`${kind}: a sampling request from the server is answered by the client`, async () => {
    const { client, samplingRequests, close } = await connect(kind);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === sampling), `${sampling} is listed`);
      const prompt = `switchboard sampling over ${kind}`;
      const result = await client.callTool({ name: sampling, arguments: { prompt, maxTokens: 16 } },
        CallToolResultSchema, { timeout: 30_000 });
      assert.equal(samplingRequests.length, 1, 'the client was asked once');
      assert.equal(samplingRequests[0].maxTokens, 16);
      assert.match(samplingRequests[0].messages[0].content.text, new RegExp(`${prompt}$`));
      const text = result.content[0].text;
      assert.ok(!result.isError, text);
      const answered = JSON.parse(text.slice(text.indexOf('{')));
      assert.deepEqual(answered, {
        role: 'assistant', model: 'switchboard-it', stopReason: 'endTurn',
        content: { type: 'text', text: samplingAnswer },
      });
    } finally {
      await close();
    }
  });
}

// Opens an SDK session whose GET stream receives notifications/resources/updated (the reference
// server sends one at once and then every 5 s while its subscriber updates are on), cuts that
// stream after its first event, holds the SDK's reconnection (GET + Last-Event-ID) until Redis
// holds two more events for the session, lets it through to `resumeOrigin` (or the same edge),
// and waits for one more live event. Returns what the client saw and what Redis holds.
async function cutAndResumeGetStream(resumeOrigin) {
  const net = tappedFetch();
  const { client, transport, close } = await connect('streamable-http', { net });
  const updates = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
  const getStreams = () => net.streams.filter((s) => s.method === 'GET');
  const dataEvents = () => getStreams().flatMap((s) => s.events.filter((e) => e.data !== ''));
  let updatesOn = false;
  try {
    const session = transport.sessionId;
    const entries = () => {
      const out = stack.redis('XRANGE', `sb:events:${session}`, '-', '+');
      return out.split('\n').filter((line) => /^[0-9]+-[0-9]+$/.test(line));
    };
    // The SDK opens its GET stream after `initialized`; the edge primes it.
    await until('the GET stream to be primed', () => getStreams()[0]?.events.length > 0);
    await client.subscribeResource({ uri: watchedUri });
    const toggled = await client.callTool({ name: toggleUpdates, arguments: {} });
    assert.match(toggled.content[0].text, /^Started/, 'subscriber updates were off');
    updatesOn = true;

    const first = getStreams()[0];
    await until('a first resources/updated on the GET stream', () => first.events.some((e) => e.data !== ''));
    const lastSeen = first.events.at(-1).id;
    let missed;
    net.holdResume = async () => {
      missed = await until('two more events in Redis while the client is away',
        () => { const m = entries().filter((id) => compareIds(id, lastSeen) > 0); return m.length >= 2 && m; },
        30_000);
    };
    net.resumeOrigin = resumeOrigin;
    first.cut();
    await until('the SDK to resume and get the missed events and one live one',
      () => getStreams().length >= 2 && missed && dataEvents().length >= 1 + missed.length + 1, 40_000);

    const resumed = getStreams()[1];
    return { first, resumed, lastSeen, missed, streams: getStreams(), delivered: dataEvents(), updates, entries: entries() };
  } finally {
    if (updatesOn) await client.callTool({ name: toggleUpdates, arguments: {} }).catch(() => {});
    await close();
  }
}

function assertResumed({ first, resumed, lastSeen, missed, streams, delivered, updates, entries }, origin) {
  assert.equal(resumed.lastEventId, lastSeen, 'the SDK resumed from the last event it saw');
  assert.equal(resumed.status, 200);
  assert.equal(new URL(resumed.url).origin, origin);
  assert.equal(resumed.events[0].data, '', 'the resumed stream starts with a priming event');
  assert.equal(resumed.events[0].id, lastSeen, 'primed at the Last-Event-ID');
  assert.equal(streams.length, 2, 'one GET stream, then one resumed GET stream');
  assert.ok(first.wasCut);
  // Every event once, in order: the ids the client got are Redis's entries up to the last one.
  const ids = delivered.map((e) => e.id);
  const upTo = entries.filter((id) => compareIds(id, ids.at(-1)) <= 0);
  assert.deepEqual(ids, upTo, 'the client got every stored event once, in order');
  for (let i = 1; i < ids.length; ++i) assert.ok(compareIds(ids[i - 1], ids[i]) < 0, `ids increase: ${ids}`);
  const afterResume = resumed.events.filter((e) => e.data !== '').map((e) => e.id);
  assert.deepEqual(afterResume.slice(0, missed.length), missed, 'the missed events come first on the resumed stream');
  assert.ok(afterResume.length > missed.length, 'and then the stream goes on live');
  for (const e of delivered) {
    const message = JSON.parse(e.data);
    assert.equal(message.method, 'notifications/resources/updated');
    assert.equal(message.params.uri, watchedUri);
  }
  assert.equal(updates.length, delivered.length, 'the SDK handed every event to the client once');
}

test('streamable-http: a cut GET stream resumes with Last-Event-ID on the same edge', async () => {
  const seen = await cutAndResumeGetStream(null);
  assertResumed(seen, stack.edge);
});

test('streamable-http: a cut GET stream resumes with Last-Event-ID on a second edge replica', async () => {
  replica = await startEdgeReplica(stack);
  try {
    const seen = await cutAndResumeGetStream(replica.origin);
    assertResumed(seen, replica.origin);
  } finally {
    await replica.stop();
    replica = undefined;
  }
});

// A request answered as a stream (progress before the result) is kept in Redis as it is sent,
// under ids the SDK resumes from: when the POST's connection breaks before the result, the SDK
// reconnects with GET + Last-Event-ID and gets the rest of that stream, the remaining progress
// notifications and the result, each once.
test('streamable-http: a long-running call whose POST stream is cut resumes with Last-Event-ID', async () => {
  const net = tappedFetch();
  const { client, close } = await connect('streamable-http', { net });
  try {
    const steps = 6;
    const progress = [];
    let callStream;
    const call = client.callTool({ name: longRunning, arguments: { duration: 3, steps } },
      CallToolResultSchema, {
        timeout: 20_000,
        onprogress: (p) => {
          progress.push(p.progress);
          if (p.progress === 2) {
            callStream = net.streams.findLast((s) => s.method === 'POST');
            callStream.cut();
          }
        },
      });
    const outcome = await call.then((r) => ({ result: r }), (err) => ({ err }));
    const resumes = net.streams.filter((s) => s.method === 'GET' && s.lastEventId !== undefined);
    assert.ok(callStream?.wasCut, 'the call\'s POST stream was cut');
    const cutAt = callStream.events.at(-1).id;
    assert.ok(resumes.some((s) => s.lastEventId === cutAt), 'the SDK resumed from the call\'s last event id');
    assert.deepEqual(progress, Array.from({ length: steps }, (_, i) => i + 1),
      `every progress notification once, in order (resumed GETs: ${resumes.map((s) => s.lastEventId).join(', ')})`);
    assert.ok(outcome.result, `the result arrived after resuming: ${outcome.err?.message}`);
    assert.equal(outcome.result.content[0].text,
      `Long running operation completed. Duration: 3 seconds, Steps: ${steps}.`);
  } finally {
    await close();
  }
});
