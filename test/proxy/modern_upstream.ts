// An MCP server built with the MCP TypeScript SDK v2 (`createMcpHandler`), which serves the
// 2026-07-28 revision and, statelessly, 2025-11-25: the upstream for the modern-revision tests.
// Same tools as the SDK v1 upstream of helpers.ts (read_notes, add_note) plus a read-only tool that
// asks the user to confirm through an `input_required` result (two round trips). It records every
// request that reached it, headers and JSON-RPC method, so tests can prove what never did.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptedContent, createMcpHandler, inputRequired, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Upstream } from './helpers.js';

export interface ModernUpstream extends Upstream {
  /** The JSON-RPC method of every POST that reached the upstream (`?` when unreadable). */
  methods: string[];
  /** Publishes notifications/tools/list_changed to every open subscriptions/listen stream. */
  toolsChanged(): void;
}

export async function startModernUpstream(): Promise<ModernUpstream> {
  const seen: IncomingHttpHeaders[] = [];
  const methods: string[] = [];
  const notes: string[] = ['first note'];

  const factory = () => {
    const mcp = new McpServer({ name: 'modern-upstream', version: '2.0.0' });
    mcp.registerTool(
      'read_notes',
      { description: 'Lists the notes', annotations: { readOnlyHint: true } },
      async () => ({ content: [{ type: 'text', text: notes.join('\n') }] }),
    );
    mcp.registerTool(
      'add_note',
      {
        description: 'Adds a note',
        inputSchema: z.object({ text: z.string() }),
        annotations: { readOnlyHint: false },
      },
      async ({ text }) => {
        notes.push(text);
        return { content: [{ type: 'text', text: `added: ${text}` }] };
      },
    );
    const confirmation = z.object({ confirm: z.boolean() });
    mcp.registerTool(
      'read_private_note',
      { description: 'Shows the private note once the user confirms', annotations: { readOnlyHint: true } },
      async (ctx) => {
        const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', confirmation);
        if (answer?.confirm !== true) {
          return inputRequired({
            inputRequests: {
              confirm: inputRequired.elicit({ message: 'Show the private note?', requestedSchema: confirmation }),
            },
          });
        }
        return { content: [{ type: 'text', text: 'the private note' }] };
      },
    );
    return mcp;
  };
  const handler = createMcpHandler(factory, { keepAliveMs: 0 });

  const http: Server = createServer(async (req, res) => {
    seen.push({ ...req.headers });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') {
        try {
          methods.push(String(JSON.parse(body.toString()).method));
        } catch {
          methods.push('?');
        }
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const response = await handler.fetch(
        new Request(`http://127.0.0.1${req.url ?? '/'}`, {
          method: req.method ?? 'GET',
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
          signal: abort.signal,
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.flushHeaders();
      if (response.body) {
        for await (const chunk of response.body) res.write(chunk);
      }
      res.end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    seen,
    methods,
    notes,
    toolsChanged: () => handler.notify.toolsChanged(),
    async close() {
      await handler.close().catch(() => {});
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}
