// The 2025-11-25 revision keeps working next to 2026-07-28: the MCP TypeScript SDK v2 client in its
// default (legacy) mode, through the proxy, to an SDK v1 server (sessions bound to user and agent)
// and to an SDK v2 server (stateless legacy serving). SDK v1 clients are in sdk_e2e.test.ts.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, expectNoAuthorization, obtainToken, PASSWORD, startChain } from './helpers.js';
import { type ModernUpstream, startModernUpstream } from './modern_upstream.js';

async function legacyClient(chain: Chain, token: string, mode: 'legacy' | 'auto' = 'legacy') {
  const client = new Client({ name: 'sdk-v2-legacy', version: '2.0.0' }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(chain.resource), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

describe('the SDK v2 client in the legacy revision', () => {
  let v1: Chain;
  let v2: Chain;
  let modern: ModernUpstream;

  beforeAll(async () => {
    v1 = await startChain();
    modern = await startModernUpstream();
    v2 = await startChain({ as: v1.as, upstream: modern });
    await v1.as.addUser('carol', PASSWORD);
  });
  afterAll(async () => {
    expectNoAuthorization(v1?.upstream);
    expectNoAuthorization(modern);
    await v2?.close();
    await modern?.close();
    await v1?.close();
  });

  it('initializes a session with an SDK v1 server, reads, and is refused the write tool', async () => {
    const { access } = await obtainToken(v1.as, v1.resource, { username: 'carol', scope: 'mcp:read' });
    const { client, transport } = await legacyClient(v1, access);
    expect(transport.sessionId).toBeTruthy();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['add_note', 'read_notes']);
    expect(JSON.stringify((await client.callTool({ name: 'read_notes' })).content)).toContain('first note');
    await expect(client.callTool({ name: 'add_note', arguments: { text: 'no' } })).rejects.toBeDefined();
    expect(v1.upstream.notes).not.toContain('no');
    // The session is this user's and agent's: another agent's token cannot ride it.
    const other = await obtainToken(v1.as, v1.resource, { username: 'carol', scope: 'mcp:read' });
    const ride = await fetch(v1.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${other.access}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
        'mcp-session-id': transport.sessionId ?? '',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(ride.status).toBe(403);
    await client.close();
  });

  it('falls back from a server/discover probe (auto mode) to initialize with an SDK v1 server', async () => {
    const { access } = await obtainToken(v1.as, v1.resource, { username: 'carol', scope: 'mcp:read' });
    const { client, transport } = await legacyClient(v1, access, 'auto');
    expect(transport.sessionId).toBeTruthy();
    expect(JSON.stringify((await client.callTool({ name: 'read_notes' })).content)).toContain('first note');
    await client.close();
  });

  it('talks to an SDK v2 server in the legacy revision', async () => {
    const { access } = await obtainToken(v2.as, v2.resource, { username: 'carol', scope: 'mcp:read mcp:write' });
    const { client } = await legacyClient(v2, access);
    expect(modern.methods).toContain('initialize');
    expect(JSON.stringify((await client.callTool({ name: 'read_notes' })).content)).toContain('first note');
    const wrote = await client.callTool({ name: 'add_note', arguments: { text: 'legacy write' } });
    expect(JSON.stringify(wrote.content)).toContain('added: legacy write');
    await client.close();
  });
});
