#!/usr/bin/env node
// An example MCP server for the resource proxy, built with the official MCP TypeScript SDK
// (McpServer over Streamable HTTP). It checks no tokens: it trusts the identity headers the proxy
// adds (X-MCP-Subject, X-MCP-Client-Id, X-MCP-Scopes) and must only be reachable through the proxy.
// Tools: `list_notes` and `whoami` are read-only (readOnlyHint), `add_note` writes.
//
//   HOST=127.0.0.1 PORT=3001 node examples/mcp-server/server.mjs
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3001);
const notes = [];
const sessions = new Map();

function buildServer() {
  const mcp = new McpServer({ name: 'example-notes', version: '1.0.0' });
  mcp.registerTool(
    'list_notes',
    { description: 'Lists every note', annotations: { readOnlyHint: true } },
    async () => ({
      content: [{ type: 'text', text: notes.map((n) => `- ${n.text} (by ${n.by})`).join('\n') || 'no notes yet' }],
    }),
  );
  mcp.registerTool(
    'whoami',
    { description: 'Shows the user and agent the proxy vouched for', annotations: { readOnlyHint: true } },
    // A tool without an input schema gets only `extra`.
    async (extra) => {
      const h = extra.requestInfo?.headers ?? {};
      return {
        content: [
          { type: 'text', text: `user ${h['x-mcp-subject']} via agent ${h['x-mcp-client-id']} (${h['x-mcp-scopes']})` },
        ],
      };
    },
  );
  mcp.registerTool(
    'add_note',
    {
      description: 'Adds a note',
      inputSchema: { text: z.string().min(1).max(1000) },
      annotations: { readOnlyHint: false, destructiveHint: false },
    },
    async ({ text }, extra) => {
      notes.push({ text, by: String(extra.requestInfo?.headers?.['x-mcp-subject'] ?? 'unknown') });
      return { content: [{ type: 'text', text: `added note #${notes.length}` }] };
    },
  );
  return mcp;
}

const http = createServer(async (req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (!req.url?.startsWith('/mcp')) {
    res.writeHead(404).end();
    return;
  }
  try {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      if (typeof sid === 'string') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, t),
      });
      t.onclose = () => t.sessionId && sessions.delete(t.sessionId);
      await buildServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) res.writeHead(500).end();
  }
});

http.listen(port, host, () => console.log(`example MCP server on http://${host}:${port}/mcp`));
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => http.close(() => process.exit(0)));
