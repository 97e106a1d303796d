import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import {
  adminApi,
  type Chain,
  connectAgent,
  INIT,
  MCP_HEADERS,
  PASSWORD,
  refreshAgent,
  startChain,
  statusAtProxy,
} from '../proxy/helpers.js';
import { cliFor } from '../support/cli.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';

interface Json {
  [key: string]: unknown;
}

const OTHER = 'https://other.example.com/mcp';

describe('per-agent policy', () => {
  let chain: Chain;
  let adminToken: string;

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('alice', PASSWORD);
    await chain.as.addResource(OTHER, 'Other MCP');
    adminToken = (await chain.as.app.stores.adminTokens.create('policy tests', null, epochSeconds())).token;
  });
  afterAll(() => chain?.close());

  const api = (path: string, body?: Json) => adminApi(chain, adminToken, path, body);

  const connect = (scope?: string) => connectAgent(chain, { scope });

  const refresh = (client: RegisteredClient, token: string) => refreshAgent(chain, client, token);

  const mcp = (token: string, body: Json, sid?: string) =>
    fetch(chain.resource, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...(sid ? { 'mcp-session-id': sid } : {}) },
      body: JSON.stringify(body),
    });

  const proxyStatus = (token: string) => statusAtProxy(chain, token);

  /** Calls the upstream's writing tool in a new session: 200, or 403 without the write scope. */
  const writeStatus = async (token: string) => {
    const opened = await mcp(token, INIT);
    await opened.text();
    const sid = opened.headers.get('mcp-session-id') ?? '';
    expect(sid).not.toBe('');
    const note = await mcp(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
    await note.body?.cancel();
    const res = await mcp(
      token,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
      sid,
    );
    await res.body?.cancel();
    return res.status;
  };

  it('read-only on a live grant: its token is refused at the proxy within a second, the refresh drops write', async () => {
    const agent = await connect();
    expect(await writeStatus(agent.access)).toBe(200);

    const set = await api('/admin/api/agent-policies', { client_id: agent.client.client_id, read_only: true });
    expect(set.status).toBe(200);
    expect(set.body.agents_narrowed).toEqual([agent.client.client_id]);
    const cutoff = await chain.as.app.stores.revocations.clientRevokedBefore(agent.client.client_id, epochSeconds());
    expect(cutoff).toBeTypeOf('number');

    // The bound docs/proxy.md promises: the outstanding token is refused within a second of the change.
    await waitFor(async () => (await proxyStatus(agent.access)) === 401, 'the proxy to refuse the token', {
      timeoutMs: 1000,
      intervalMs: 20,
    });

    // Tokens issued in the second of the change are covered by the feed entry too (iat <= before).
    await waitFor(() => epochSeconds() > (cutoff ?? 0), 'the second after the change');
    const refreshed = await refresh(agent.client, agent.refresh);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope).toBe('mcp:read');
    const access = String(refreshed.body.access_token);
    expect(String(decodeJwt(access).scope).split(' ')).not.toContain('mcp:write');
    await waitFor(async () => (await proxyStatus(access)) === 404, 'the narrowed token to pass');
    expect(await writeStatus(access)).toBe(403);

    // Removing the policy gives back what the grant holds, at the next refresh; nothing is cut.
    const policyId = (set.body.policy as Json).id;
    const before = await chain.as.app.stores.revocations.latestSeq();
    expect((await api(`/admin/api/agent-policies/${policyId}/delete`, {})).status).toBe(200);
    expect(await chain.as.app.stores.revocations.latestSeq()).toBe(before);
    const widened = await refresh(agent.client, String(refreshed.body.refresh_token));
    expect(widened.status).toBe(200);
    expect(String(widened.body.scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
  });

  it('a policy set from the CLI in another shell applies at the very next refresh, and its removal too', async () => {
    // The server keeps the policies in memory between token requests (src/storage/settings_cache.ts):
    // a change through another connection must reach it at once, with nothing to tell it.
    const agent = await connect();
    const warm = await refresh(agent.client, agent.refresh);
    expect(String(warm.body.scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    const cli = cliFor(chain.as.dataDir);
    const set = await cli.run(['policy', 'set', '--client', agent.client.client_id, '--read-only', '--json']);
    expect(set.err).toBe('');
    expect(set.code).toBe(0);
    const narrowed = await refresh(agent.client, String(warm.body.refresh_token));
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('mcp:read');

    const id = String((JSON.parse(set.out) as { policy: { id: number } }).policy.id);
    expect((await cli.run(['policy', 'remove', id])).code).toBe(0);
    const widened = await refresh(agent.client, String(narrowed.body.refresh_token));
    expect(String(widened.body.scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
  });

  it('a new agent under a policy: the consent page offers only the allowed scopes and the token has no more', async () => {
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    expect((await api('/admin/api/agent-policies', { client_id: client.client_id, scopes: ['mcp:read'] })).status).toBe(
      200,
    );
    const got = await authorize(chain.as.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: chain.resource,
      scope: 'mcp:read mcp:write',
      extra: ['mcp:write'],
    });
    expect(got.consentHtml).toContain('value="mcp:read"');
    expect(got.consentHtml).not.toContain('value="mcp:write"');
    const { status, body } = await redeem(chain.as.url, client, got, { resource: chain.resource });
    expect(status).toBe(200);
    expect(body.scope).toBe('mcp:read');
  });

  it('an MCP server outside the allowed ones: refused at /authorize, and a live grant to it is refused at refresh', async () => {
    const agent = await connect();
    const set = await api('/admin/api/agent-policies', { client_id: agent.client.client_id, resources: [OTHER] });
    expect(set.status).toBe(200);
    expect(set.body.agents_narrowed).toEqual([agent.client.client_id]);
    await waitFor(async () => (await proxyStatus(agent.access)) === 401, 'the proxy to refuse the token', {
      timeoutMs: 1000,
      intervalMs: 20,
    });
    const refused = await refresh(agent.client, agent.refresh);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_target');

    const params = new URLSearchParams({
      response_type: 'code',
      client_id: agent.client.client_id,
      redirect_uri: agent.client.redirect_uris[0] ?? '',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      resource: chain.resource,
      scope: 'mcp:read',
    });
    const res = await fetch(`${chain.as.url}/authorize?${params}`, { redirect: 'manual' });
    const location = res.headers.get('location') ?? '';
    const text = await res.text();
    expect(`${location} ${text}`).toMatch(/invalid_target|may not use that MCP server/);
    expect(location).not.toMatch(/[?&]code=/);
  });

  it('refuses bad policies with a 400 and changes nothing', async () => {
    const count = async () => (await chain.as.app.stores.agentPolicies.list()).length;
    const before = await count();
    const seq = await chain.as.app.stores.revocations.latestSeq();
    for (const body of [
      {},
      { client_id: 'a', domain: 'example.com' },
      { domain: 'not a domain' },
      { domain: '*.example.com' },
      { client_id: 'a', resources: ['https://unknown.example/mcp'] },
      { client_id: 'a', resources: 'https://other.example.com/mcp' },
      { client_id: 'a', scopes: ['nobody:offers'] },
      { client_id: 'a', read_only: 'yes' },
      { client_id: 7 },
    ] as Json[]) {
      const res = await api('/admin/api/agent-policies', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
    expect((await api('/admin/api/agent-policies/999999/delete', {})).status).toBe(404);
    expect((await api('/admin/api/agent-policies/nope/delete', {})).status).toBe(404);
    expect(await count()).toBe(before);
    expect(await chain.as.app.stores.revocations.latestSeq()).toBe(seq);
  });

  it('labels a server through the API; a bad label or server is a 400 that changes nothing', async () => {
    const set = await api('/admin/api/resource-labels', { resource: OTHER, label: 'internal' });
    expect(set).toMatchObject({ status: 200, body: { label: 'internal', agents_narrowed: [] } });
    expect(await chain.as.app.stores.resourceLabels.labelOf(OTHER)).toBe('internal');
    for (const body of [
      { resource: OTHER, label: 'secret' },
      { resource: 'https://nowhere.example/mcp', label: 'public' },
      { label: 'public' },
    ] as Json[]) {
      expect((await api('/admin/api/resource-labels', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await chain.as.app.stores.resourceLabels.labelOf(OTHER)).toBe('internal');
    expect((await api('/admin/api/resource-labels', { resource: OTHER, label: null })).status).toBe(200);
    expect(await chain.as.app.stores.resourceLabels.labelOf(OTHER)).toBeUndefined();
  });

  it('lists policies, a domain one naming metadata-document agents served from it', async () => {
    const set = await api('/admin/api/agent-policies', { domain: 'Vendor.Example', read_only: true });
    expect(set.status).toBe(200);
    expect(set.body.policy).toMatchObject({ domain: 'vendor.example', read_only: true, resources: null, scopes: null });
    const listed = await api('/admin/api/agent-policies');
    expect(listed.body.policies).toEqual(
      expect.arrayContaining([expect.objectContaining({ domain: 'vendor.example' })]),
    );
    const effective = (clientId: string) => chain.as.app.stores.agentPolicies.effectiveFor(clientId);
    expect((await effective('https://app.vendor.example/client.json'))?.readOnly).toBe(true);
    expect(await effective('https://vendor.example.evil.test/client.json')).toBeUndefined();
    expect(await effective('vendor.example')).toBeUndefined();
  });
});
