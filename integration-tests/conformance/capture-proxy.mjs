#!/usr/bin/env node
// A recording HTTP reverse proxy on loopback: forwards every request to TARGET unchanged (a Host
// or Origin naming the proxy itself is rewritten to name TARGET, so the server sees what a
// direct client would send) and streams the answer back, SSE included. Every exchange (request
// line, headers and body; status, headers and every body chunk, with times) is appended to
// LOG.jsonl as it happens, and written readably to LOG.txt when the proxy stops (SIGTERM/SIGINT).
//
//   node capture-proxy.mjs --target http://127.0.0.1:PORT --log PATH_WITHOUT_EXTENSION
//
// Prints "listening http://127.0.0.1:P" on stdout once it accepts connections.
import fs from 'node:fs';
import http from 'node:http';

function usage() {
  process.stderr.write('usage: capture-proxy.mjs --target http://127.0.0.1:PORT --log PATH\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let target;
let logBase;
for (let i = 0; i < args.length; i += 2) {
  if (args[i] === '--target') target = new URL(args[i + 1] ?? '');
  else if (args[i] === '--log') logBase = args[i + 1];
  else usage();
}
if (!target || !logBase) usage();

const started = Date.now();
const jsonl = fs.createWriteStream(`${logBase}.jsonl`, { flags: 'w' });
const exchanges = [];
let nextSeq = 0;
let self = '';

function record(exchange, event) {
  const entry = { seq: exchange.seq, t: (Date.now() - started) / 1000, ...event };
  exchange.events.push(entry);
  jsonl.write(`${JSON.stringify(entry)}\n`);
}

function rewrite(value) {
  if (typeof value !== 'string' || !self) return value;
  return value.split(self).join(target.host);
}

const server = http.createServer((req, res) => {
  const exchange = { seq: ++nextSeq, events: [] };
  exchanges.push(exchange);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    record(exchange, {
      kind: 'request', method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8'),
    });
    const headers = { ...req.headers };
    if (headers.host) headers.host = rewrite(headers.host);
    if (headers.origin) headers.origin = rewrite(headers.origin);
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers,
    });
    upstream.on('response', (up) => {
      record(exchange, { kind: 'response', status: up.statusCode, reason: up.statusMessage, headers: up.headers });
      res.writeHead(up.statusCode, up.statusMessage, up.rawHeaders);
      res.flushHeaders();
      up.on('data', (c) => {
        record(exchange, { kind: 'chunk', data: c.toString('utf8') });
        res.write(c);
      });
      up.on('end', () => {
        record(exchange, { kind: 'end' });
        res.end();
      });
      up.on('error', (e) => {
        record(exchange, { kind: 'error', message: e.message });
        res.destroy();
      });
    });
    upstream.on('error', (e) => {
      record(exchange, { kind: 'error', message: e.message });
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`capture-proxy: ${e.message}\n`);
      } else {
        res.destroy();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        record(exchange, { kind: 'client-closed' });
        upstream.destroy();
      }
    });
    upstream.end(body);
  });
});

function render() {
  const lines = [];
  for (const ex of exchanges) {
    for (const e of ex.events) {
      const at = `+${e.t.toFixed(3)}s`;
      switch (e.kind) {
        case 'request':
          lines.push('', `#${ex.seq} ${at} ${e.method} ${e.url}`);
          for (const [k, v] of Object.entries(e.headers)) lines.push(`> ${k}: ${v}`);
          if (e.body) lines.push(`> ${e.body}`);
          break;
        case 'response':
          lines.push(`< ${at} ${e.status} ${e.reason ?? ''}`.trimEnd());
          for (const [k, v] of Object.entries(e.headers)) lines.push(`< ${k}: ${v}`);
          break;
        case 'chunk':
          for (const l of e.data.replace(/\n$/, '').split('\n')) lines.push(`< ${l}`);
          break;
        case 'end':
          lines.push(`-- ${at} response ended`);
          break;
        case 'client-closed':
          lines.push(`-- ${at} client closed the connection before the response ended`);
          break;
        case 'error':
          lines.push(`-- ${at} error: ${e.message}`);
          break;
        default:
          break;
      }
    }
  }
  fs.writeFileSync(`${logBase}.txt`, `${lines.join('\n')}\n`);
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  render();
  jsonl.end(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(0, '127.0.0.1', () => {
  self = `127.0.0.1:${server.address().port}`;
  process.stdout.write(`listening http://${self}\n`);
});
