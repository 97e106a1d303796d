import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import {
  adminApi,
  type Chain,
  connectAgent,
  PASSWORD,
  refreshAgent,
  startChain,
  statusAtProxy,
} from '../proxy/helpers.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';

interface Json {
  [key: string]: unknown;
}

describe('policy per group of users', () => {
  let chain: Chain;
  let adminToken: string;

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('alice', PASSWORD);
    await chain.as.addUser('bob', PASSWORD);
    await chain.as.addUser('carol', PASSWORD);
    adminToken = (await chain.as.app.stores.adminTokens.create('group tests', null, epochSeconds())).token;
  });
  afterAll(() => chain?.close());

  const api = (path: string, body?: Json) => adminApi(chain, adminToken, path, body);

  async function group(name: string): Promise<number> {
    const created = await api('/admin/api/groups', { name });
    expect(created.status).toBe(201);
    return Number((created.body.group as Json).id);
  }

  const connect = (username: string, scope?: string, client?: RegisteredClient) =>
    connectAgent(chain, { username, scope, client });

  const refresh = (client: RegisteredClient, token: string) => refreshAgent(chain, client, token);

  const proxyStatus = (token: string) => statusAtProxy(chain, token);

  it('narrows a member’s live grant at once at the proxy and at the next refresh, and leaves others alone', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    const id = await group('contractors');
    const added = await api(`/admin/api/groups/${id}/members`, { username: 'alice' });
    expect(added.body).toMatchObject({ added: true, grants_narrowed: 0 });

    const set = await api('/admin/api/group-policies', { group: 'contractors', read_only: true });
    expect(set.status).toBe(200);
    expect(set.body.grants_narrowed).toBe(1);
    const changedAt = epochSeconds();
    // The bound docs/proxy.md promises: the outstanding token of the narrowed grant is refused within a second.
    await waitFor(async () => (await proxyStatus(alice.access)) === 401, 'the proxy to refuse the token', {
      timeoutMs: 1000,
      intervalMs: 20,
    });
    // bob is in no group: his token passes and his refresh keeps writing.
    expect(await proxyStatus(bob.access)).toBe(404);
    const bobs = await refresh(bob.client, bob.refresh);
    expect(String(bobs.body.scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);

    // Tokens issued in the second of the change are covered by the feed entry too (iat <= before).
    await waitFor(() => epochSeconds() > changedAt, 'the second after the change');
    const refreshed = await refresh(alice.client, alice.refresh);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope).toBe('mcp:read');
    const access = String(refreshed.body.access_token);
    expect(String(decodeJwt(access).scope)).toBe('mcp:read');
    await waitFor(async () => (await proxyStatus(access)) === 404, 'the narrowed token to pass');

    // A new agent of alice: the consent page offers only what the group allows.
    const next = await connect('alice');
    expect(next.consentHtml).toContain('value="mcp:read"');
    expect(next.consentHtml).not.toContain('value="mcp:write"');
    expect(next.scope).toBe('mcp:read');

    // Out of the group: the next refresh gives back what the grant holds; nothing is cut.
    const seq = await chain.as.app.stores.revocations.latestSeq();
    const out = await api(`/admin/api/groups/${id}/members/alice/delete`, {});
    expect(out.body).toMatchObject({ removed: true });
    expect(await chain.as.app.stores.revocations.latestSeq()).toBe(seq);
    const widened = await refresh(alice.client, String(refreshed.body.refresh_token));
    expect(String(widened.body.scope).split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
  });

  it('putting a user in a group with a policy cuts their narrowed grants', async () => {
    const id = await group('auditors');
    expect((await api('/admin/api/group-policies', { group: id, scopes: ['mcp:read'] })).status).toBe(200);
    const carol = await connect('carol');
    expect(carol.scope.split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    const added = await api(`/admin/api/groups/${id}/members`, { username: 'carol' });
    expect(added.body).toMatchObject({ added: true, grants_narrowed: 1 });
    await waitFor(async () => (await proxyStatus(carol.access)) === 401, 'the proxy to refuse the token', {
      timeoutMs: 1000,
      intervalMs: 20,
    });
    const shown = await api(`/admin/api/groups/${id}`);
    expect(shown.body.members).toEqual([{ username: 'carol', source: 'admin' }]);
    expect(shown.body.policy).toMatchObject({ group: 'auditors', scopes: ['mcp:read'], read_only: false });
  });

  it('combines a group policy with the agent’s own: the narrower wins', async () => {
    const id = await group('writers');
    await api(`/admin/api/groups/${id}/members`, { username: 'bob' });
    // The group allows only writing; the agent's own policy allows only reading: nothing is left.
    expect((await api('/admin/api/group-policies', { group: 'writers', scopes: ['mcp:write'] })).status).toBe(200);
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    expect((await api('/admin/api/agent-policies', { client_id: client.client_id, scopes: ['mcp:read'] })).status).toBe(
      200,
    );
    // Refused rather than a consent offering nothing: no code, invalid_target.
    const got = await authorize(chain.as.url, {
      client,
      username: 'bob',
      password: PASSWORD,
      resource: chain.resource,
      scope: 'mcp:read mcp:write',
    });
    expect(got.code).toBeNull();
    expect(got.location.searchParams.get('error')).toBe('invalid_target');
    // The same agent for a user outside the group gets what its own policy allows.
    const carol = await connect('carol', 'mcp:read mcp:write', client);
    expect(carol.scope).toBe('mcp:read');
  });

  it('refuses bad requests with a 4xx and changes nothing', async () => {
    const groups = async () => (await api('/admin/api/groups')).body.groups as Json[];
    const before = (await groups()).length;
    const seq = await chain.as.app.stores.revocations.latestSeq();
    for (const body of [
      {},
      { name: '' },
      { name: 7 },
      { name: ' padded ' },
      { name: 'a\u0000b' },
      { name: 'x'.repeat(257) },
    ]) {
      const res = await api('/admin/api/groups', body as Json);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api('/admin/api/groups', { name: 'contractors' })).status).toBe(400);
    for (const body of [
      { group: 'nobody-here', read_only: true },
      { group: 'contractors', resources: ['https://unknown.example/mcp'] },
      { group: 'contractors', scopes: ['nobody:offers'] },
      { group: 'contractors', read_only: 'yes' },
      { read_only: true },
    ]) {
      expect((await api('/admin/api/group-policies', body as Json)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await api('/admin/api/groups/999999/members', { username: 'alice' })).status).toBe(404);
    expect((await api('/admin/api/groups/nope/delete', {})).status).toBe(404);
    const id = Number(((await groups()).find((g) => g.name === 'contractors') as Json).id);
    expect((await api(`/admin/api/groups/${id}/members`, { username: 'nobody' })).status).toBe(404);
    expect((await api('/admin/api/group-policies/999999/delete', {})).status).toBe(404);
    expect((await groups()).length).toBe(before);
    expect(await chain.as.app.stores.revocations.latestSeq()).toBe(seq);
  });
});
