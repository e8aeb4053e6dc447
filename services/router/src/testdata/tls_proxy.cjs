// TLS in front of a plain HTTP server, for the router's https upstream tests:
//   node tls_proxy.cjs --cert CERT.pem --key KEY.pem --target http://127.0.0.1:PORT
// listens on 127.0.0.1 (a free port), prints "listening https://127.0.0.1:PORT", and passes
// every request to the target, streaming bodies both ways (SSE included).
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const target = new URL(args.target);

const server = https.createServer(
  { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) },
  (req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
server.listen(0, '127.0.0.1', () => {
  console.log(`listening https://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
