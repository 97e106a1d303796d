// A full MCP round trip with the official SDK on both ends: an McpServer with one tool behind a
// bearer check (JWT verified with the authorization server's published JWKS, audience = the MCP
// server), and the SDK Client over Streamable HTTP with an OAuth provider. The client's first
// request gets 401 + WWW-Authenticate resource_metadata; the SDK discovers, registers and asks to
// open the browser; the user signs in and allows; finishAuth(code) gets tokens; the tool is called.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  type ResourceServer,
  startLoopbackReceiver,
  startResourceServer,
} from '../support/mcp_agent.js';

const PASSWORD = 'correct horse battery staple';

describe('MCP round trip: SDK client → 401 → OAuth with this server → tool call', () => {
  let server: TestServer;
  let rs: ResourceServer;
  let receiver: LoopbackReceiver;
  let aliceId: string;
  const seen: { status: number; auth: boolean }[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    aliceId = (await server.addUser('alice', PASSWORD)).id;
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    let resource = '';
    let metadataUrl = '';

    const challenge = (res: ServerResponse, error?: string) => {
      const params = [error ? `error="${error}"` : '', `resource_metadata="${metadataUrl}"`, 'scope="mcp:read"']
        .filter(Boolean)
        .join(', ');
      res
        .writeHead(401, { 'www-authenticate': `Bearer ${params}`, 'content-type': 'application/json' })
        .end(JSON.stringify({ error: error ?? 'unauthorized' }));
    };

    // The MCP endpoint: bearer check, then a fresh stateless McpServer per request.
    const onMcp = async (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse) => {
      const header = req.headers.authorization ?? '';
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
      if (!match?.[1]) {
        seen.push({ status: 401, auth: false });
        return challenge(res);
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(match[1], jwks, {
          issuer: server.url,
          audience: resource,
          typ: 'at+jwt',
          algorithms: ['ES256'],
        }));
      } catch {
        seen.push({ status: 401, auth: true });
        return challenge(res, 'invalid_token');
      }
      const scopes = String(payload.scope ?? '')
        .split(' ')
        .filter(Boolean);
      if (!scopes.includes('mcp:read')) {
        res
          .writeHead(403, {
            'www-authenticate': `Bearer error="insufficient_scope", scope="mcp:read", resource_metadata="${metadataUrl}"`,
          })
          .end();
        return;
      }
      seen.push({ status: 200, auth: true });
      req.auth = { token: match[1], clientId: String(payload.client_id), scopes, extra: { sub: payload.sub } };

      const mcp = new McpServer({ name: 'roundtrip-test', version: '1.0.0' });
      mcp.registerTool('whoami', { description: 'Who the bearer token says you are' }, async (extra) => ({
        content: [
          {
            type: 'text',
            text: JSON.stringify({
              sub: extra.authInfo?.extra?.sub,
              scopes: extra.authInfo?.scopes,
              client_id: extra.authInfo?.clientId,
            }),
          },
        ],
      }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res);
    };

    rs = await startResourceServer({ authorizationServer: server.url, onMcp });
    resource = rs.resource;
    metadataUrl = rs.metadataUrl;
    await server.addResource(rs.resource, 'Round-trip MCP');
    receiver = await startLoopbackReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await rs?.close();
    await server?.close();
  });

  it('connects, is challenged, authorizes in the browser, finishes auth and calls the tool', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl, 'Round-trip Agent');

    // 1. No token: the MCP server answers 401; the SDK runs discovery + registration and asks for the browser.
    const first = new StreamableHTTPClientTransport(new URL(rs.resource), { authProvider: provider });
    const client1 = new Client({ name: 'roundtrip-agent', version: '1.0.0' });
    await expect(client1.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(seen[0]).toEqual({ status: 401, auth: false });
    expect(rs.hits).toContain('GET /.well-known/oauth-protected-resource/mcp');
    expect(provider.client?.client_id).toBeTruthy();
    const url = provider.lastAuthorizationUrl();
    expect(url.searchParams.get('resource')).toBe(rs.resource);
    // The challenged scope (WWW-Authenticate scope="mcp:read") is what the SDK asks for.
    expect(url.searchParams.get('scope')).toBe('mcp:read');

    // 2. The user signs in and allows; the browser lands on the agent's loopback redirect.
    const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD });
    expect(outcome.location.searchParams.get('iss')).toBe(server.url);
    expect(outcome.code).toBeTruthy();
    await first.finishAuth(outcome.code ?? '');
    expect(provider.saved?.access_token).toBeTruthy();
    await client1.close();

    // 3. Connect again with the tokens and call the tool.
    const client2 = new Client({ name: 'roundtrip-agent', version: '1.0.0' });
    await client2.connect(new StreamableHTTPClientTransport(new URL(rs.resource), { authProvider: provider }));
    try {
      const tools = await client2.listTools();
      expect(tools.tools.map((t) => t.name)).toEqual(['whoami']);
      const result = await client2.callTool({ name: 'whoami', arguments: {} });
      const content = result.content as { type: string; text: string }[];
      expect(content[0]?.type).toBe('text');
      const who = JSON.parse(content[0]?.text ?? '{}') as { sub: string; scopes: string[]; client_id: string };
      expect(who.sub).toBe(aliceId);
      expect(who.scopes).toEqual(['mcp:read']);
      expect(who.client_id).toBe(provider.client?.client_id);
    } finally {
      await client2.close();
    }
    expect(seen.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(3); // initialize, tools/list, tools/call
    expect(seen.filter((s) => s.status === 401 && s.auth)).toHaveLength(0); // the token was never refused
    expect(provider.authorizationUrls).toHaveLength(1);
  });
});
