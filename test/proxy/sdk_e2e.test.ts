// End to end with the official MCP TypeScript SDK as the agent, through the proxy, to an SDK-built
// MCP server: 401 → RFC 9728 discovery → registration → authorization (the user's part driven by
// the test) → the read tool works; the write tool gets 403 insufficient_scope; after step-up it
// works; after an admin revoke the token is refused within a second.
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/feed.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  startLoopbackReceiver,
} from '../support/mcp_agent.js';
import { CookieBrowser } from '../support/oauth.js';
import { type Chain, expectNoAuthorization, PASSWORD, startChain } from './helpers.js';

describe('the MCP SDK client through the proxy', () => {
  let chain: Chain;
  let receiver: LoopbackReceiver;

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('alice', PASSWORD);
    receiver = await startLoopbackReceiver();
  });
  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await receiver?.close();
    await chain?.close();
  });

  const connect = async (provider: InMemoryOAuthProvider) => {
    const client = new Client({ name: 'sdk-agent', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(chain.resource), { authProvider: provider });
    await client.connect(transport);
    return client;
  };

  it('discovers, registers, authorizes, calls the read tool, steps up for the write tool, and is cut off by a revoke', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl, 'Proxy SDK Agent');
    const browser = new CookieBrowser();

    // 1. No token: the proxy answers 401 and the SDK walks discovery and registration to a redirect.
    await expect(connect(provider)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.client?.client_id).toBeTruthy();
    const url = provider.lastAuthorizationUrl();
    expect(url.origin).toBe(chain.as.url);
    expect(url.searchParams.get('resource')).toBe(chain.resource);
    // The 401 challenge named only the read scope: least privilege first.
    expect(url.searchParams.get('scope')).toBe('mcp:read');
    const first = await actAsUser(url, { username: 'alice', password: PASSWORD, browser });
    expect(first.code).toBeTruthy();
    expect(await auth(provider, { serverUrl: chain.resource, authorizationCode: first.code ?? '' })).toBe('AUTHORIZED');
    expect(provider.saved?.scope).toBe('mcp:read');

    // 2. Connected with a read-only token: listing and the read-only tool work.
    const client = await connect(provider);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['add_note', 'read_notes']);
    const read = await client.callTool({ name: 'read_notes' });
    expect(JSON.stringify(read.content)).toContain('first note');

    // 3. The writing tool: 403 insufficient_scope naming every scope needed. The SDK v1 retries by
    //    refreshing (same scopes), gets the same 403, and gives up.
    const challenges: string[] = [];
    await expect(client.callTool({ name: 'add_note', arguments: { text: 'should not land' } })).rejects.toMatchObject({
      code: 403,
    });
    expect(chain.upstream.notes).not.toContain('should not land');
    const denied = await fetch(chain.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${provider.saved?.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_note' } }),
    });
    expect(denied.status).toBe(403);
    challenges.push(denied.headers.get('www-authenticate') ?? '');
    const scope = /scope="([^"]+)"/.exec(challenges[0] ?? '')?.[1];
    expect(scope).toBe('mcp:read mcp:write');
    await client.close();

    // 4. Step-up: the agent asks for exactly the challenged scopes; the user consents to the new one.
    provider.invalidateCredentials('tokens');
    expect(await auth(provider, { serverUrl: chain.resource, scope })).toBe('REDIRECT');
    const stepUp = await actAsUser(provider.lastAuthorizationUrl(), { username: 'alice', password: PASSWORD, browser });
    expect(stepUp.loginSeen).toBe(false);
    expect(stepUp.consentHtml).toContain('value="mcp:write"');
    expect(await auth(provider, { serverUrl: chain.resource, authorizationCode: stepUp.code ?? '' })).toBe(
      'AUTHORIZED',
    );
    expect(provider.saved?.scope).toBe('mcp:read mcp:write');
    const writer = await connect(provider);
    await writer.listTools();
    const wrote = await writer.callTool({ name: 'add_note', arguments: { text: 'stepped up' } });
    expect(JSON.stringify(wrote.content)).toContain('added: stepped up');
    expect(chain.upstream.notes).toContain('stepped up');

    // 5. An admin revokes the grant: the proxy refuses the token within a second.
    const token = provider.saved?.access_token ?? '';
    const grantId = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).grant_id as string;
    expect(
      await chain.as.app.stores.revocations.revokeGrant(grantId, 'admin:proxy-e2e', Math.floor(Date.now() / 1000)),
    ).toBe(true);
    await eventually(
      async () => {
        const r = await fetch(chain.resource, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        await r.text();
        return r.status === 401;
      },
      1000,
      20,
    );
    // The SDK client holding that token is now refused too (its refresh token died with the grant).
    await expect(writer.callTool({ name: 'read_notes' })).rejects.toBeDefined();
    await writer.close().catch(() => {});
  });
});
