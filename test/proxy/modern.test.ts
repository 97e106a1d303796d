// The MCP 2026-07-28 revision through the proxy: the MCP TypeScript SDK v2 client pinned to it, an
// SDK v2 server behind, the real authorization server. A read-only agent connects (server/discover
// is a read), lists, reads, answers an input_required round, listens, and steps up for the write
// tool; requests whose mirrored headers disagree with the body never reach the upstream.
import { Client, UnauthorizedError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/feed.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  startLoopbackReceiver,
} from '../support/mcp_agent.js';
import { CookieBrowser } from '../support/oauth.js';
import { type Chain, captureLog, expectNoAuthorization, obtainToken, PASSWORD, startChain } from './helpers.js';
import { type ModernUpstream, startModernUpstream } from './modern_upstream.js';

const MODERN = '2026-07-28';
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

const b64 = (s: string) => `=?base64?${Buffer.from(s).toString('base64')}?=`;

describe('MCP 2026-07-28 through the proxy', () => {
  let chain: Chain;
  let upstream: ModernUpstream;
  let receiver: LoopbackReceiver;
  let read: string;
  const log = captureLog();

  beforeAll(async () => {
    upstream = await startModernUpstream();
    chain = await startChain({ upstream, config: { authRequestPath: '/_auth' } });
    // The audit lines are read back from a proxy of its own with a capturing logger.
    await chain.proxy.close();
    const { startProxy } = await import('../../src/proxy/index.js');
    chain.proxy = await startProxy(chain.config, { logger: log.logger });
    await chain.as.addUser('alice', PASSWORD);
    receiver = await startLoopbackReceiver();
    read = (await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read' })).access;
    // The proxy learns which tools are read-only from a tools/list answer.
    expect((await post({ method: 'tools/list' })).status).toBe(200);
  });
  afterAll(async () => {
    expectNoAuthorization(upstream);
    await receiver?.close();
    await chain?.close();
    await upstream?.close();
  });

  /** One modern POST; `headers` replace the derived ones (undefined removes one). */
  const post = (body: Record<string, unknown>, headers: Record<string, string | undefined> = {}, token = read) => {
    const params = (body.params ?? {}) as Record<string, unknown>;
    const name =
      typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
    const all: Record<string, string | undefined> = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': String(body.method),
      ...(name !== undefined && { 'mcp-name': name }),
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
    return fetch(chain.resource, {
      method: 'POST',
      headers: sent,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body, params: { ...params, _meta: ENVELOPE } }),
    });
  };

  it('lets a read-only SDK v2 agent discover, list, read, answer input_required and step up to write', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl, 'SDK v2 Agent');
    const browser = new CookieBrowser();
    const newClient = () => {
      const client = new Client(
        { name: 'sdk-v2-agent', version: '2.0.0' },
        { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: MODERN } } },
      );
      client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { confirm: true } }));
      return client;
    };
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    let transport = new StreamableHTTPClientTransport(new URL(chain.resource), { authProvider: provider });
    let client = newClient();

    // 401 → discovery → registration → the user's consent (read only: what the challenge named).
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const first = await actAsUser(provider.lastAuthorizationUrl(), { username: 'alice', password: PASSWORD, browser });
    // The SDK v2 adds offline_access (the authorization server offers it) to what the 401 named.
    expect(provider.lastAuthorizationUrl().searchParams.get('scope')?.split(' ')).toContain('mcp:read');
    await transport.finishAuth(first.location.searchParams);
    expect(provider.saved?.scope?.split(' ')).not.toContain('mcp:write');

    // server/discover with a read-only token: connected.
    transport = new StreamableHTTPClientTransport(new URL(chain.resource), { authProvider: provider });
    client = newClient();
    await client.connect(transport);
    expect(upstream.methods).toContain('server/discover');
    expect(upstream.methods).not.toContain('initialize');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['add_note', 'read_notes', 'read_private_note']);
    expect(JSON.stringify((await client.callTool({ name: 'read_notes' })).content)).toContain('first note');

    // input_required: two tools/call round trips, both reads.
    const calls = upstream.methods.filter((m) => m === 'tools/call').length;
    const privateNote = await client.callTool({ name: 'read_private_note' });
    expect(JSON.stringify(privateNote.content)).toContain('the private note');
    expect(upstream.methods.filter((m) => m === 'tools/call').length).toBe(calls + 2);

    // The write tool: 403 insufficient_scope, the SDK v2 re-authorizes for the union of scopes.
    await expect(client.callTool({ name: 'add_note', arguments: { text: 'stepped up' } })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(upstream.notes).not.toContain('stepped up');
    const stepUp = provider.lastAuthorizationUrl();
    expect(stepUp.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    const second = await actAsUser(stepUp, { username: 'alice', password: PASSWORD, browser });
    expect(second.loginSeen).toBe(false);
    await transport.finishAuth(second.location.searchParams);
    expect(provider.saved?.scope?.split(' ')).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    const wrote = await client.callTool({ name: 'add_note', arguments: { text: 'stepped up' } });
    expect(JSON.stringify(wrote.content)).toContain('added: stepped up');
    expect(upstream.notes).toContain('stepped up');
    await client.close();

    // Every modern request reached the upstream without a session id, and each was audited as modern.
    const modernLines = log.lines.filter((l) => l.audit === 'mcp_call' && l.revision === 'modern');
    expect(modernLines.some((l) => l.method === 'tools/call' && l.tool === 'add_note' && l.decision === 'allow')).toBe(
      true,
    );
    expect(
      modernLines.some(
        (l) => l.method === 'tools/call' && l.tool === 'add_note' && l.decision === 'insufficient_scope',
      ),
    ).toBe(true);
  });

  it('treats subscriptions/listen as a read and ends the stream when the grant is revoked', async () => {
    const token = await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read' });
    const res = await post(
      { method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } },
      {},
      token.access,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('mcp-session-id')).toBeNull();
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('notifications/subscriptions/acknowledged')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the listen stream ended early: ${text}`);
      text += decoder.decode(value);
    }
    upstream.toolsChanged();
    while (!text.includes('notifications/tools/list_changed')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the listen stream ended early: ${text}`);
      text += decoder.decode(value);
    }
    // The grant is revoked: the proxy cuts the stream (however the upstream would keep it).
    await chain.as.app.stores.revocations.revokeGrant(token.grantId, 'admin:test', Math.floor(Date.now() / 1000));
    const ended = await (async () => {
      try {
        for (;;) if ((await reader.read()).done) return 'ended';
      } catch {
        return 'cut';
      }
    })();
    expect(['ended', 'cut']).toContain(ended);
    await eventually(
      () =>
        log.lines.some((l) => l.audit === 'mcp_call' && l.method === 'subscriptions/listen' && l.closed === 'revoked'),
      2000,
      20,
    );
  });

  it('refuses mirrored headers that disagree with the body, in either direction, before the upstream', async () => {
    const cases: [string, Record<string, unknown>, Record<string, string | undefined>][] = [
      [
        'header says list, body calls the write tool',
        { method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
        { 'mcp-method': 'tools/list', 'mcp-name': undefined },
      ],
      [
        'header names the read tool, body the write tool',
        { method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
        { 'mcp-name': 'read_notes' },
      ],
      [
        'body lists, header calls a tool',
        { method: 'tools/list' },
        { 'mcp-method': 'tools/call', 'mcp-name': 'add_note' },
      ],
      [
        'body calls the read tool, header names the write tool',
        { method: 'tools/call', params: { name: 'read_notes' } },
        { 'mcp-name': 'add_note' },
      ],
      [
        'an encoded name that decodes to another tool',
        { method: 'tools/call', params: { name: 'read_notes' } },
        { 'mcp-name': b64('add_note') },
      ],
      [
        'an invalid Base64 name',
        { method: 'tools/call', params: { name: 'read_notes' } },
        { 'mcp-name': '=?base64?***?=' },
      ],
      ['a name on a method that names nothing', { method: 'tools/list' }, { 'mcp-name': 'add_note' }],
      ['Mcp-Method missing', { method: 'tools/list' }, { 'mcp-method': undefined }],
      ['Mcp-Name missing', { method: 'tools/call', params: { name: 'read_notes' } }, { 'mcp-name': undefined }],
      ['MCP-Protocol-Version missing', { method: 'server/discover' }, { 'mcp-protocol-version': undefined }],
      ['MCP-Protocol-Version not the one in _meta', { method: 'tools/list' }, { 'mcp-protocol-version': '2026-09-01' }],
      [
        'header says discover, body calls a tool',
        { method: 'tools/call', params: { name: 'add_note' } },
        { 'mcp-method': 'server/discover', 'mcp-name': undefined },
      ],
    ];
    const before = upstream.seen.length;
    for (const [name, body, headers] of cases) {
      const res = await post(body, headers);
      expect(res.status, name).toBe(400);
      const json = (await res.json()) as { error: { code: number; message: string } };
      expect(json.error.code, name).toBe(-32020);
    }
    expect(upstream.seen.length).toBe(before);
    expect(upstream.notes).not.toContain('x');
  });

  it('accepts an encoded Mcp-Name that matches, and refuses batches and posted responses in this revision', async () => {
    const ok = await post({ method: 'tools/call', params: { name: 'read_notes' } }, { 'mcp-name': b64('read_notes') });
    expect(ok.status).toBe(200);
    await ok.text();
    const before = upstream.seen.length;
    const batch = await fetch(chain.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${read}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
      },
      body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: ENVELOPE } }]),
    });
    expect(batch.status).toBe(400);
    const response = await fetch(chain.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${read}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }),
    });
    expect(response.status).toBe(400);
    const get = await fetch(chain.resource, {
      headers: { authorization: `Bearer ${read}`, 'mcp-protocol-version': MODERN },
    });
    expect(get.status).toBe(405);
    expect(upstream.seen.length).toBe(before);
  });

  it('ignores a stray Mcp-Session-Id: not checked, not forwarded, not echoed', async () => {
    const before = upstream.seen.length;
    const res = await post(
      { method: 'tools/list' },
      { 'mcp-session-id': 'never-minted-by-anyone', 'last-event-id': '7' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    await res.text();
    const reached = upstream.seen.slice(before);
    expect(reached).toHaveLength(1);
    expect(reached[0]?.['mcp-session-id']).toBeUndefined();
    expect(reached[0]?.['last-event-id']).toBeUndefined();
  });

  it('never forwards a checked MCP header in another spelling', async () => {
    const before = upstream.seen.length;
    const res = await post(
      { method: 'tools/list' },
      { mcp_method: 'tools/call', mcp_name: 'add_note', mcp_session_id: 's' },
    );
    expect(res.status).toBe(200);
    await res.text();
    const reached = upstream.seen[before] ?? {};
    expect(Object.keys(reached).filter((h) => h.includes('_'))).toEqual([]);
  });

  it('names the method and tool of a modern auth_request from its headers in the audit, deciding as before', async () => {
    const both = await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read mcp:write' });
    const ask = (token: string) =>
      fetch(`${chain.proxy.url}/_auth`, {
        headers: {
          authorization: `Bearer ${token}`,
          'x-original-uri': '/mcp',
          'mcp-protocol-version': MODERN,
          'mcp-method': 'tools/call',
          'mcp-name': b64('add_note'),
        },
      });
    expect((await ask(both.access)).status).toBe(204);
    // Without the body the headers cannot be checked: the read-only token still needs the route's
    // authRequestScopes (read and write), whatever the headers claim.
    expect((await ask(read)).status).toBe(403);
    const lines = log.lines.filter((l) => l.audit === 'mcp_call' && l.grant === both.grantId);
    expect(lines).toEqual([
      expect.objectContaining({ revision: 'modern', method: 'tools/call', tool: 'add_note', decision: 'allow' }),
    ]);
  });

  it('passes Mcp-Param-* headers through', async () => {
    const before = upstream.seen.length;
    const res = await post(
      { method: 'tools/call', params: { name: 'read_notes' } },
      { 'mcp-param-region': 'us-west1' },
    );
    expect(res.status).toBe(200);
    await res.text();
    expect(upstream.seen[before]?.['mcp-param-region']).toBe('us-west1');
  });

  it('answers the CORS preflight for the headers the revision needs', async () => {
    const res = await fetch(chain.resource, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://agent.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name, mcp-param-region',
      },
    });
    expect(res.status).toBe(204);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const h of [
      'authorization',
      'content-type',
      'mcp-protocol-version',
      'mcp-method',
      'mcp-name',
      'mcp-param-region',
    ]) {
      expect(allowed, h).toContain(h);
    }
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('MCP 2026-07-28 with hideUnauthorizedTools', () => {
  let chain: Chain;
  let upstream: ModernUpstream;
  beforeAll(async () => {
    upstream = await startModernUpstream();
    chain = await startChain({ upstream, route: { hideUnauthorizedTools: true } });
    await chain.as.addUser('bob', PASSWORD);
  });
  afterAll(async () => {
    await chain?.close();
    await upstream?.close();
  });

  it('lists only the tools the token may call', async () => {
    const { access } = await obtainToken(chain.as, chain.resource, { username: 'bob', scope: 'mcp:read' });
    const res = await fetch(chain.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${access}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: ENVELOPE } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { tools: { name: string }[] } };
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(['read_notes', 'read_private_note']);
  });
});
