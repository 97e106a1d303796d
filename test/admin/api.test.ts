// The admin JSON API end to end: an admin API token from the CLI is used, shows up as used, and is
// revoked; grants are listed with filters and revoked (the agent's refresh token is then refused and
// resource servers see the revocation in the feed); agents and users are disabled and enabled; bad
// input is 400/404, never 5xx; every answer is JSON with no-store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { auditRows, connect, RESOURCE, refresh, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';

interface Json {
  [key: string]: unknown;
}

const cli = (server: TestServer, argv: string[]) => cliFor(server.dataDir).run(argv);

describe('admin JSON API', () => {
  let server: TestServer;
  let token: string;
  let tokenId: string;

  beforeAll(async () => {
    server = await serverWithUsers();
    const created = await server.app.stores.adminTokens.create('tests', null, epochSeconds());
    token = created.token;
    tokenId = created.record.id;
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  async function api(
    method: string,
    path: string,
    bearer = token,
  ): Promise<{ status: number; body: Json; res: Response }> {
    const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${bearer}` } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toContain('application/json');
    return { status: res.status, body: (await res.json()) as Json, res };
  }

  it('admin token lifecycle through the CLI: created once, used, listed as used, revoked → 401', async () => {
    const created = await cli(server, ['admin-tokens', 'create', '--name', 'ci script', '--user', 'root']);
    expect(created.code).toBe(0);
    expect(created.err).toContain('only time the token is shown');
    const secret = /token: (mcpadm_[A-Za-z0-9_-]{43})/.exec(created.out)?.[1] ?? '';
    const id = /id: +(\S+)/.exec(created.out)?.[1] ?? '';
    expect(secret).not.toBe('');
    // Only the hash is stored.
    const dump = JSON.stringify(await server.sql.all('SELECT * FROM admin_tokens'));
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(secret.slice('mcpadm_'.length));

    expect((await api('GET', '/admin/api/grants', secret)).status).toBe(200);
    const listed = await cli(server, ['admin-tokens', 'list', '--json']);
    const entry = (JSON.parse(listed.out) as Json[]).find((t) => t.id === id);
    expect(entry).toMatchObject({ name: 'ci script', user: 'root', revokedAt: null });
    expect(entry?.lastUsedAt).toEqual(expect.any(Number));
    expect(listed.out).not.toContain(secret);

    const revoked = await cli(server, ['admin-tokens', 'revoke', id]);
    expect(revoked.code).toBe(0);
    const after = await api('GET', '/admin/api/grants', secret);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('invalid_token');
    expect((await auditRows(server, 'admin_token.created')).at(-1)).toMatchObject({ user_id: await userId('root') });
    expect((await auditRows(server, 'admin_token.revoked')).at(-1)?.details).toContain(id);
    expect(JSON.stringify(await server.sql.all('SELECT * FROM audit_events'))).not.toContain(secret);
  });

  it.each([
    [['admin-tokens', 'create', '--name', 'x', '--user', 'alice'], 'is not an active admin'],
    [['admin-tokens', 'create', '--name', 'x', '--user', 'nobody'], 'no user named nobody'],
    [['admin-tokens', 'create', '--name', '\u001b[31m'], '--name must be'],
    [['admin-tokens', 'revoke', 'nope'], 'no admin API token "nope"'],
  ])('the CLI refuses %j', async (argv, message) => {
    const before = (await server.app.stores.adminTokens.list()).length;
    const run = await cli(server, argv);
    expect(run.code).toBe(1);
    expect(run.err).toContain(message);
    expect(await server.app.stores.adminTokens.list()).toHaveLength(before);
  });

  it('a token dies with its admin: once the admin is disabled, 403', async () => {
    await server.addUser('ops', 'correct horse battery staple', { admin: true });
    const { token: opsToken } = await server.app.stores.adminTokens.create('ops', await userId('ops'), epochSeconds());
    expect((await api('GET', '/admin/api/clients', opsToken)).status).toBe(200);
    await server.app.stores.users.setDisabled(await userId('ops'), true);
    expect((await api('GET', '/admin/api/clients', opsToken)).status).toBe(403);
  });

  it('revoking a grant: refresh refused, feed entry for resource servers, audited with the token as actor', async () => {
    const a = await connect(server, 'alice');
    const other = await connect(server, 'alice');
    const seq = await server.app.stores.revocations.latestSeq();
    const res = await api('POST', `/admin/api/grants/${a.grantId}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ grant_id: a.grantId, revoked: true });
    const refused = await refresh(server, a);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as Json).error).toBe('invalid_grant');
    expect((await refresh(server, other)).status).toBe(200);
    expect(await server.app.stores.revocations.feedAfter(seq, epochSeconds())).toEqual([
      expect.objectContaining({ kind: 'grant', subject: a.grantId }),
    ]);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedBy).toBe(`admin-token:${tokenId}`);
    expect((await auditRows(server, 'grant.revoked')).at(-1)).toMatchObject({
      grant_id: a.grantId,
      user_id: await userId('alice'),
      client_id: a.client.client_id,
      resource: RESOURCE,
      result: 'success',
      details: JSON.stringify({ by: 'admin', actor_id: `admin-token:${tokenId}` }),
    });
    // Again: nothing left to revoke, still 200; an unknown id is 404.
    expect((await api('POST', `/admin/api/grants/${a.grantId}/revoke`)).body).toEqual({
      grant_id: a.grantId,
      revoked: false,
    });
    expect((await api('POST', '/admin/api/grants/no-such-grant/revoke')).status).toBe(404);
  });

  it('lists grants with filters by user, client, resource and state', async () => {
    const bob1 = await connect(server, 'bob');
    const bob2 = await connect(server, 'bob');
    await api('POST', `/admin/api/grants/${bob2.grantId}/revoke`);
    const ids = async (query: string) =>
      ((await api('GET', `/admin/api/grants?${query}`)).body.grants as Json[]).map((g) => g.id);
    expect(await ids('user=bob')).toEqual([bob1.grantId]);
    expect(await ids('user=bob&state=revoked')).toEqual([bob2.grantId]);
    expect(new Set(await ids('user=bob&state=all'))).toEqual(new Set([bob1.grantId, bob2.grantId]));
    expect(await ids(`client=${encodeURIComponent(bob1.client.client_id)}`)).toEqual([bob1.grantId]);
    expect(await ids(`user=bob&resource=${encodeURIComponent(RESOURCE)}`)).toEqual([bob1.grantId]);
    expect(await ids('user=bob&resource=https%3A%2F%2Fother.example%2Fmcp')).toEqual([]);
    const [grant] = (await api('GET', '/admin/api/grants?user=bob')).body.grants as Json[];
    expect(grant).toMatchObject({
      id: bob1.grantId,
      user: { id: await userId('bob'), username: 'bob' },
      client: { id: bob1.client.client_id, name: 'Test Agent', registered: true },
      resource: { uri: RESOURCE, name: 'Orders DB' },
      scopes: [
        { scope: 'mcp:read', description: 'Read data and list tools', isWrite: false },
        { scope: 'mcp:write', description: 'Change data and call tools that write', isWrite: true },
      ],
      obtainedVia: 'consent',
      revokedAt: null,
    });
  });

  it.each([
    ['/admin/api/grants?state=gone', 400, 'invalid_request'],
    ['/admin/api/grants?state=active&state=revoked', 400, 'invalid_request'],
    ['/admin/api/grants?user=a&user=b', 400, 'invalid_request'],
    ['/admin/api/grants?limit=0', 400, 'invalid_request'],
    ['/admin/api/grants?limit=abc', 400, 'invalid_request'],
    [`/admin/api/grants?client=${'x'.repeat(3000)}`, 400, 'invalid_request'],
    ['/admin/api/grants?user=nobody', 404, 'not_found'],
  ])('GET %s → %i %s', async (path, status, error) => {
    const res = await api('GET', path);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect(res.body.error_description).toEqual(expect.any(String));
  });

  it.each([
    ['POST', '/admin/api/users/nobody/revoke-grants'],
    ['POST', '/admin/api/users/nobody/disable'],
    ['POST', '/admin/api/users/nobody/enable'],
    ['POST', '/admin/api/clients/nobody/disable'],
    ['POST', '/admin/api/clients/nobody/enable'],
    ['POST', '/admin/api/clients/nobody/revoke-grants'],
    ['POST', '/admin/api/clients/%E0%A4%A/disable'],
    ['POST', '/admin/api/grants/%ZZ/revoke'],
    ['POST', '/admin/api/users/%00/disable'],
    ['GET', '/admin/api/grants/x'],
    ['DELETE', '/admin/api/grants'],
  ])('%s %s → 404 JSON', async (method, path) => {
    const res = await api(method, path);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });

  it("revokes all of a user's grants, optionally only to one agent", async () => {
    const agentA = await connect(server, 'bob');
    const agentB = await connect(server, 'bob');
    const only = await api(
      'POST',
      `/admin/api/users/bob/revoke-grants?client=${encodeURIComponent(agentA.client.client_id)}`,
    );
    expect(only.body).toEqual({ username: 'bob', revoked: [agentA.grantId] });
    expect((await refresh(server, agentB)).status).toBe(200);
    const all = await api('POST', '/admin/api/users/bob/revoke-grants');
    expect(all.body.revoked).toContain(agentB.grantId);
    expect(await server.app.stores.grantRecords.list({ accountId: await userId('bob'), state: 'active' })).toEqual([]);
    expect((await api('POST', '/admin/api/users/bob/revoke-grants?client=a&client=b')).status).toBe(400);
  });

  it('lists agents; disabling one refuses its refresh token and revokes its grants; enabling it again', async () => {
    const a = await connect(server, 'alice');
    const list = await api('GET', '/admin/api/clients');
    // Registrations of one agent are merged into one row named after the newest; several in the
    // same second have no order on PostgreSQL (no rowid), so look the registration up among them.
    const agent = (list.body.clients as Json[]).find((c) => (c.clientIds as string[]).includes(a.client.client_id));
    expect(agent).toMatchObject({
      name: 'Test Agent',
      registered: true,
      registeredVia: 'dynamic',
      redirectHosts: ['127.0.0.1'],
      disabledAt: null,
    });
    expect(agent?.lastUsedAt).toEqual(expect.any(Number));
    expect(agent?.firstUsedAt).toEqual(expect.any(Number));
    expect(JSON.stringify(list.body)).not.toContain('registration_access_token');

    const id = encodeURIComponent(a.client.client_id);
    const disabled = await api('POST', `/admin/api/clients/${id}/disable`);
    expect(disabled.body).toMatchObject({ client_id: a.client.client_id, disabled: true, changed: true });
    expect(disabled.body.revoked).toContain(a.grantId);
    const refused = await refresh(server, a);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as Json).error).toBe('invalid_client');
    expect((await api('POST', `/admin/api/clients/${id}/disable`)).body).toMatchObject({ changed: false });
    expect((await auditRows(server, 'client.disabled')).at(-1)).toMatchObject({ client_id: a.client.client_id });
    expect((await api('POST', `/admin/api/clients/${id}/enable`)).body).toEqual({
      client_id: a.client.client_id,
      disabled: false,
      changed: true,
    });
    expect((await auditRows(server, 'client.enabled')).at(-1)).toMatchObject({ client_id: a.client.client_id });
    expect((await connect(server, 'alice', a.client)).grantId).toBeTruthy();
  });

  it('revokes every grant of an agent', async () => {
    const a = await connect(server, 'alice');
    const b = await connect(server, 'bob', a.client);
    const res = await api('POST', `/admin/api/clients/${encodeURIComponent(a.client.client_id)}/revoke-grants`);
    expect(new Set(res.body.revoked as string[])).toEqual(new Set([a.grantId, b.grantId]));
    expect((await refresh(server, a)).status).toBe(400);
    expect((await refresh(server, b)).status).toBe(400);
  });

  it('disables a user (grants revoked, no sign-in) and enables them again', async () => {
    await server.addUser('erin', 'correct horse battery staple');
    const e = await connect(server, 'erin');
    const web = await signedInClient(server, 'erin');
    const res = await api('POST', '/admin/api/users/erin/disable');
    expect(res.body).toMatchObject({ username: 'erin', disabled: true, changed: true, revoked: [e.grantId] });
    expect((await refresh(server, e)).status).toBe(400);
    expect((await web.get('/account')).status).toBe(303);
    expect((await web.signIn('erin')).status).toBe(401);
    expect((await auditRows(server, 'user.disabled')).at(-1)).toMatchObject({ user_id: await userId('erin') });
    expect((await api('POST', '/admin/api/users/erin/enable')).body).toEqual({
      username: 'erin',
      disabled: false,
      changed: true,
    });
    expect((await web.signIn('erin')).status).toBe(303);
  });

  it('an admin session works with the X-CSRF-Token header from the console; an admin cannot disable themselves', async () => {
    const root = await signedInClient(server, 'root');
    const { csrf, html } = await root.page('/admin');
    expect(html).toContain(`<meta name="csrf-token" content="${csrf}">`);
    const headers = { accept: 'application/json', 'x-csrf-token': csrf };
    const list = await root.request('GET', '/admin/api/clients', { headers: { accept: 'application/json' } });
    expect(list.status).toBe(200);
    const self = await root.request('POST', '/admin/api/users/root/disable', { headers });
    expect(self.status).toBe(400);
    expect((await server.app.stores.users.findByUsername('root'))?.disabled).toBe(false);
    const c = await connect(server, 'alice');
    const res = await root.request('POST', `/admin/api/grants/${c.grantId}/revoke`, { headers });
    expect(res.status).toBe(200);
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedBy).toBe(`admin:${await userId('root')}`);
  });
});
