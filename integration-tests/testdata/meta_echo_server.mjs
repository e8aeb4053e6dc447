// A minimal STDIO MCP server for the telemetry test: its one tool, `meta`, answers with the
// params._meta of the tools/call it received (where the gateway puts the trace context), as
// JSON text. Newline-delimited JSON-RPC on stdin/stdout; nothing else.
import readline from 'node:readline';

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const lines = readline.createInterface({ input: process.stdin });

lines.on('line', (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    return;
  }
  if (message.id === undefined || message.method === undefined) return;  // notification, response
  const reply = (result) => send({ jsonrpc: '2.0', id: message.id, result });
  switch (message.method) {
    case 'initialize':
      reply({
        protocolVersion: message.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'meta-echo', version: '1.0.0' },
      });
      break;
    case 'ping':
      reply({});
      break;
    case 'tools/list':
      reply({
        tools: [{
          name: 'meta',
          description: 'Answers with the _meta of the call',
          inputSchema: { type: 'object', properties: {} },
        }],
      });
      break;
    case 'tools/call':
      reply({ content: [{ type: 'text', text: JSON.stringify(message.params?._meta ?? {}) }] });
      break;
    default:
      send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
  }
});
lines.on('close', () => process.exit(0));
