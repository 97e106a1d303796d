// A minimal Streamable HTTP MCP server for scenario 4, in its own process: every JSON-RPC request
// gets a small JSON result at once, so what is measured in front of it is the proxy's own cost.
// Env: BENCH_PORT.
import { createServer } from 'node:http';
import { childFailed, childReady } from './lib/proc.mjs';

const TEXT = JSON.stringify({ content: [{ type: 'text', text: 'ok' }] });

try {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let id = null;
      try {
        id = JSON.parse(Buffer.concat(chunks).toString('utf8')).id ?? null;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${TEXT}}`);
    });
  });
  server.keepAliveTimeout = 65_000;
  const port = Number(process.env.BENCH_PORT);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  childReady({ url: `http://127.0.0.1:${port}/mcp` }, () => new Promise((resolve) => server.close(() => resolve())));
} catch (err) {
  childFailed(err);
}
