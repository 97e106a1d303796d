// An MCP SDK v1 agent (1.32) can reach a writing tool when its user allows it. The SDK v1 answers a
// 403 insufficient_scope by refreshing with the scopes it already has, so it never gets the write
// scope by itself; the consent page offers the server's other scopes, unticked and marked as not
// requested, and what the user ticks is issued (docs/agents.md#more-than-the-agent-asked-for).

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  startLoopbackReceiver,
} from '../support/mcp_agent.js';
import { authorize, PUBLIC_CLIENT, redeem, register } from '../support/oauth.js';
import { type Chain, expectNoAuthorization, PASSWORD, startChain } from './helpers.js';

describe('an SDK v1 agent whose user allows writing', () => {
  let chain: Chain;
  let receiver: LoopbackReceiver;

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('dave', PASSWORD);
    receiver = await startLoopbackReceiver();
  });
  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await receiver?.close();
    await chain?.close();
  });

  /** The SDK v1 transport's own flow: 401 → discovery → registration → the user's decision → finishAuth. */
  async function connectAs(name: string, extra?: string[]) {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl, name);
    let transport = new StreamableHTTPClientTransport(new URL(chain.resource), { authProvider: provider });
    await expect(new Client({ name, version: '1' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.lastAuthorizationUrl().searchParams.get('scope')).toBe('mcp:read');
    const outcome = await actAsUser(provider.lastAuthorizationUrl(), {
      username: 'dave',
      password: PASSWORD,
      ...(extra && { extra }),
    });
    await transport.finishAuth(outcome.code ?? '');
    transport = new StreamableHTTPClientTransport(new URL(chain.resource), { authProvider: provider });
    const client = new Client({ name, version: '1' });
    await client.connect(transport);
    return { client, provider, consentHtml: outcome.consentHtml ?? '' };
  }

  it('is offered the write scope unticked and marked as not requested; left unticked, writing stays refused', async () => {
    const { client, provider, consentHtml } = await connectAs('Reader Agent');
    expect(consentHtml).toMatch(/<input type="checkbox" name="extra_scope" value="mcp:write">/);
    expect(consentHtml).toContain('not-requested-badge');
    expect(consentHtml).not.toMatch(/name="scope" value="mcp:write"/);
    expect(provider.saved?.scope).toBe('mcp:read');
    await client.listTools();
    await expect(client.callTool({ name: 'add_note', arguments: { text: 'refused' } })).rejects.toThrow(/403/);
    expect(chain.upstream.notes).not.toContain('refused');
    await client.close();
  });

  it('reaches the write tool through its own transport once the user ticks the write scope', async () => {
    const { client, provider } = await connectAs('Writer Agent', ['mcp:write']);
    expect(provider.saved?.scope?.split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    await client.listTools();
    const wrote = await client.callTool({ name: 'add_note', arguments: { text: 'written by v1' } });
    expect(JSON.stringify(wrote.content)).toContain('added: written by v1');
    expect(chain.upstream.notes).toContain('written by v1');
    // The refresh token carries the scope too: a refresh keeps writing possible.
    const { refreshAuthorization } = await import('@modelcontextprotocol/sdk/client/auth.js');
    const refreshed = await refreshAuthorization(chain.as.url, {
      clientInformation: provider.client ?? { client_id: '' },
      refreshToken: provider.saved?.refresh_token ?? '',
      resource: new URL(chain.resource),
    });
    expect(String(decodeJwt(refreshed.access_token).scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    await client.close();
  });

  it('ignores a ticked scope the page did not offer', async () => {
    await chain.as.addResource('https://other.example/mcp', 'Other MCP');
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    const got = await authorize(chain.as.url, {
      client,
      username: 'dave',
      password: PASSWORD,
      resource: chain.resource,
      scope: 'mcp:read',
      extra: ['mcp:admin', 'openid', 'https://other.example/mcp#mcp:write', 'offline_access'],
    });
    expect(got.code).toBeTruthy();
    const { status, body } = await redeem(chain.as.url, client, got, { resource: chain.resource });
    expect(status).toBe(200);
    expect(String(body.scope).split(' ')).not.toContain('mcp:write');
    expect(String(decodeJwt(String(body.access_token)).scope)).toBe('mcp:read');
  });
});
