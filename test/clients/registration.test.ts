// Registration that cannot be abused: the cap on unused registrations, their cleanup, initial
// access tokens from `mcp-oauth clients token`, limits on every metadata field, and repeat
// registrations shown as one agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { purgeExpired } from '../../src/storage/purge.js';
import { connect, PASSWORD, RESOURCE, RESOURCE_NAME, signedInClient } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';

function postRegister(target: TestServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${target.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function clientCount(target: TestServer): Promise<number> {
  return ((await target.sql.get("SELECT count(*) AS n FROM oidc_models WHERE model = 'Client'")) as { n: number }).n;
}

async function serverWith(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer(env);
  await server.addResource(RESOURCE, RESOURCE_NAME);
  await server.addUser('alice', PASSWORD);
  await server.addUser('admin', PASSWORD, { admin: true });
  return server;
}

describe('the cap on registrations never used', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith({ MCP_OAUTH_MAX_UNUSED_CLIENTS: '2' });
  });
  afterAll(() => server?.close());

  it('refuses registration at the cap with 429, creates nothing; a used registration frees a place', async () => {
    const first = await register(server.url, PUBLIC_CLIENT);
    await register(server.url, PUBLIC_CLIENT);
    const refused = await postRegister(server, PUBLIC_CLIENT);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(((await refused.json()) as { error: string }).error).toBe('temporarily_unavailable');
    expect(await clientCount(server)).toBe(2);

    await connect(server, 'alice', first);
    expect((await postRegister(server, PUBLIC_CLIENT)).status).toBe(201);
    expect((await postRegister(server, PUBLIC_CLIENT)).status).toBe(429);
  });

  it('counts only registrations younger than the cleanup age (older ones are left to the cleanup)', async () => {
    expect((await postRegister(server, PUBLIC_CLIENT)).status).toBe(429);
    const before = await clientCount(server);
    // Every registration made so far now looks older than MCP_OAUTH_UNUSED_CLIENT_TTL (24 h).
    await server.sql.run("UPDATE oidc_models SET created_at = created_at - 2 * 86400 WHERE model = 'Client'");
    expect((await postRegister(server, PUBLIC_CLIENT)).status).toBe(201);
    expect(await clientCount(server)).toBe(before + 1);
  });
});

describe('cleanup of registrations never used', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith();
  });
  afterAll(() => server?.close());

  it('deletes them after MCP_OAUTH_UNUSED_CLIENT_TTL and keeps the used ones', async () => {
    const unused = await register(server.url, PUBLIC_CLIENT);
    const used = await connect(server, 'alice');
    const now = epochSeconds();
    expect((await purgeExpired(server.sql, now)).unusedClients).toBe(0);
    const later = await purgeExpired(server.sql, now + 86400 + 5, { unusedClientTtl: 86400 });
    expect(later.unusedClients).toBe(1);
    expect(await server.app.stores.clients.find(unused.client_id)).toBeUndefined();
    expect(await server.app.stores.clients.find(used.client.client_id)).toBeDefined();
  });

  it('`mcp-oauth purge` honours a shorter MCP_OAUTH_UNUSED_CLIENT_TTL', async () => {
    const cli = cliFor(server.dataDir);
    const unused = await register(server.url, PUBLIC_CLIENT);
    await server.sql.run("UPDATE oidc_models SET created_at = created_at - 600 WHERE model = 'Client' AND id = ?", [
      unused.client_id,
    ]);
    const out = await cli.run(['purge'], { env: { MCP_OAUTH_UNUSED_CLIENT_TTL: '5m' } });
    expect(out.code).toBe(0);
    expect(out.out).toContain('purged 1 agent registrations never used');
    expect(await server.app.stores.clients.find(unused.client_id)).toBeUndefined();
  });
});

describe('MCP_OAUTH_REGISTRATION=token with `mcp-oauth clients token`', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith({ MCP_OAUTH_REGISTRATION: 'token' });
  });
  afterAll(() => server?.close());

  it('a token made at the CLI registers as many agents as its --uses, then is refused', async () => {
    const cli = cliFor(server.dataDir);
    const made = await cli.run(['clients', 'token', '--label', 'ci', '--uses', '2', '--json'], {
      env: { MCP_OAUTH_REGISTRATION: 'token' },
    });
    expect(made.code).toBe(0);
    expect(made.err).not.toContain('mcpreg_');
    const { token, id } = JSON.parse(made.out) as { token: string; id: string };
    expect(token).toMatch(/^mcpreg_/);

    expect((await postRegister(server, PUBLIC_CLIENT)).status).toBe(401);
    const auth = { authorization: `Bearer ${token}` };
    // A refused registration does not use the token up.
    expect((await postRegister(server, { ...PUBLIC_CLIENT, redirect_uris: ['javascript:x'] }, auth)).status).toBe(400);
    expect((await postRegister(server, PUBLIC_CLIENT, auth)).status).toBe(201);
    expect((await postRegister(server, PUBLIC_CLIENT, auth)).status).toBe(201);
    const spent = await postRegister(server, PUBLIC_CLIENT, auth);
    expect(spent.status).toBe(401);
    expect(((await spent.json()) as { error: string }).error).toBe('invalid_token');
    expect(await clientCount(server)).toBe(2);

    const listed = await cli.run(['clients', 'tokens']);
    expect(listed.out).toContain(id);
    expect(listed.out).not.toContain(token);
  });

  it('a revoked or expired token is refused', async () => {
    const cli = cliFor(server.dataDir);
    const made = JSON.parse((await cli.run(['clients', 'token', '--json'])).out) as { token: string; id: string };
    expect((await cli.run(['clients', 'token-revoke', made.id])).code).toBe(0);
    expect((await postRegister(server, PUBLIC_CLIENT, { authorization: `Bearer ${made.token}` })).status).toBe(401);

    const short = JSON.parse((await cli.run(['clients', 'token', '--ttl', '1h', '--json'])).out) as { token: string };
    await server.sql.run('UPDATE registration_tokens SET expires_at = 1');
    expect((await postRegister(server, PUBLIC_CLIENT, { authorization: `Bearer ${short.token}` })).status).toBe(401);
  });

  it('bad options are refused', async () => {
    const cli = cliFor(server.dataDir);
    expect((await cli.run(['clients', 'token', '--ttl', 'forever'])).code).toBe(1);
    expect((await cli.run(['clients', 'token', '--uses', '0'])).code).toBe(1);
    expect((await cli.run(['clients', 'token', '--label', ''])).code).toBe(1);
  });
});

describe('limits on every metadata field', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith();
  });
  afterAll(() => server?.close());

  it.each<[string, Record<string, unknown>]>([
    ['a client_name over 200 characters', { client_name: 'n'.repeat(201) }],
    ['a software_version over 200 characters', { software_version: 'v'.repeat(201) }],
    ['a software_id that is not a string', { software_id: 42 }],
    ['six contacts', { contacts: ['a@x.org', 'b@x.org', 'c@x.org', 'd@x.org', 'e@x.org', 'f@x.org'] }],
    ['a javascript: contact', { contacts: ['javascript:alert(1)'] }],
    ['a javascript: client_name', { client_name: 'javascript:alert(1)' }],
    ['a data: software_id', { software_id: 'data:text/html,<b>hi</b>' }],
    ['a file: tos_uri', { tos_uri: 'file:///etc/passwd' }],
    ['a javascript: client_uri', { client_uri: 'javascript:alert(1)' }],
    ['a data: logo_uri', { logo_uri: 'data:image/png;base64,AAAA' }],
    ['a policy_uri over 2000 characters', { policy_uri: `https://x.example/${'p'.repeat(2000)}` }],
    [
      'metadata over 16 KiB in total',
      { redirect_uris: Array.from({ length: 20 }, (_, i) => `https://x.example/${i}/${'c'.repeat(1900)}`) },
    ],
  ])('%s → 400, nothing created', async (_name, extra) => {
    const before = await clientCount(server);
    const res = await postRegister(server, { ...PUBLIC_CLIENT, ...extra });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(['invalid_client_metadata', 'invalid_redirect_uri']).toContain(body.error);
    expect(await clientCount(server)).toBe(before);
  });

  it('members this server does not use are dropped, never stored or shown', async () => {
    const res = await postRegister(server, { ...PUBLIC_CLIENT, post_logout_redirect_uris: ['data:text/html,hi'] });
    expect(res.status).toBe(201);
    const client = (await res.json()) as Record<string, unknown>;
    expect(client).not.toHaveProperty('post_logout_redirect_uris');
    const stored = await server.app.stores.clients.find(String(client.client_id));
    expect(JSON.stringify(stored?.metadata)).not.toContain('data:');
  });

  it('ordinary values within the limits are accepted', async () => {
    const res = await postRegister(server, {
      ...PUBLIC_CLIENT,
      client_name: 'n'.repeat(200),
      contacts: ['ops@example.com'],
      client_uri: 'https://agent.example.com',
      software_id: 'agent',
      software_version: '1.2.3',
    });
    expect(res.status).toBe(201);
  });
});

describe('repeat registrations are one agent', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith();
  });
  afterAll(() => server?.close());

  it("in the user's Connected agents and the admin's agent list; revoking it revokes them all", async () => {
    const body = { ...PUBLIC_CLIENT, client_name: 'Reconnecting Agent', software_id: 'reconnect' };
    const a = await connect(server, 'alice', await register(server.url, body), 'mcp:read');
    const b = await connect(server, 'alice', await register(server.url, body), 'mcp:write');
    await register(server.url, { ...body, software_id: 'different' });

    const web = await signedInClient(server, 'alice');
    const { html, csrf } = await web.page('/account');
    expect(html.match(/data-grant-id=/g)).toHaveLength(1);
    expect(html).toContain('mcp:read');
    expect(html).toContain('mcp:write');

    const { token } = await server.app.stores.adminTokens.create('tests', null, epochSeconds());
    const listed = (await (
      await fetch(`${server.url}/admin/api/clients`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { clients: { name: string; registrations: number; clientIds: string[] }[] };
    const rows = listed.clients.filter((c) => c.name === 'Reconnecting Agent');
    expect(rows).toHaveLength(2);
    const grouped = rows.find((r) => r.registrations === 2);
    expect(grouped?.clientIds.sort()).toEqual([a.client.client_id, b.client.client_id].sort());

    const grantId = /data-grant-id="([^"]+)"/.exec(html)?.[1] ?? '';
    const res = await web.post(`/account/grants/${encodeURIComponent(grantId)}/revoke`, { csrf });
    expect(res.status).toBe(303);
    const active = await server.app.stores.grantRecords.list({ accountId: undefined, state: 'active' });
    expect(active.map((g) => g.id)).not.toContain(a.grantId);
    expect(active.map((g) => g.id)).not.toContain(b.grantId);
  });

  it('a disabled registration is shown apart from the enabled ones of the same agent', async () => {
    const body = { ...PUBLIC_CLIENT, client_name: 'Group Disable', software_id: 'gd' };
    const one = await register(server.url, body);
    const two = await register(server.url, body);
    const { token } = await server.app.stores.adminTokens.create('tests2', null, epochSeconds());
    const list = async () =>
      (
        (await (
          await fetch(`${server.url}/admin/api/clients`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { clients: { name: string; registrations: number; disabledAt: number | null }[] }
      ).clients.filter((c) => c.name === 'Group Disable');
    expect(await list()).toMatchObject([{ registrations: 2, disabledAt: null }]);
    const res = await fetch(`${server.url}/admin/api/clients/${encodeURIComponent(one.client_id)}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(await server.app.stores.clientState.isDisabled(one.client_id)).toBe(true);
    expect(await server.app.stores.clientState.isDisabled(two.client_id)).toBe(false);
    const rows = await list();
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.disabledAt !== null)).toHaveLength(1);
  });
});

describe('metadata-document agents disabled by domain through the admin API', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith();
  });
  afterAll(() => server?.close());

  it('disable, list and enable a domain; a malformed domain is a 400', async () => {
    const { token } = await server.app.stores.adminTokens.create('tests', null, epochSeconds());
    const call = (method: string, path: string) =>
      fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const off = await call('POST', '/admin/api/client-domains/Agents.Example.com/disable');
    expect(off.status).toBe(200);
    expect(await off.json()).toMatchObject({ domain: 'agents.example.com', disabled: true, changed: true });
    expect(await server.app.stores.clientState.isDomainBlocked('x.agents.example.com')).toBe(true);
    expect(await server.app.stores.clientState.isDomainBlocked('example.com')).toBe(false);
    const list = (await (await call('GET', '/admin/api/client-domains')).json()) as { domains: { domain: string }[] };
    expect(list.domains.map((d) => d.domain)).toEqual(['agents.example.com']);
    expect((await call('POST', '/admin/api/client-domains/agents.example.com/enable')).status).toBe(200);
    expect(await server.app.stores.clientState.isDomainBlocked('x.agents.example.com')).toBe(false);
    expect((await call('POST', '/admin/api/client-domains/not_a_domain!/disable')).status).toBe(400);
    expect((await fetch(`${server.url}/admin/api/client-domains`)).status).toBe(401);
  });

  it('the CLI disables and enables by URL (before first use) and by domain', async () => {
    const cli = cliFor(server.dataDir);
    const url = 'https://agent.example.com/client.json';
    expect((await cli.run(['clients', 'disable', url])).out).toContain('disabled client');
    expect(await server.app.stores.clientState.isDisabled(url)).toBe(true);
    expect((await cli.run(['clients', 'enable', url])).code).toBe(0);
    expect(await server.app.stores.clientState.isDisabled(url)).toBe(false);
    expect((await cli.run(['clients', 'disable', '--domain', 'example.com'])).out).toContain('disabled domain');
    expect(await server.app.stores.clientState.isDomainBlocked('agent.example.com')).toBe(true);
    expect((await cli.run(['clients', 'enable', '--domain', 'example.com'])).code).toBe(0);
    expect((await cli.run(['clients', 'disable'])).code).toBe(1);
    expect((await cli.run(['clients', 'disable', '--domain', '-x'])).code).toBe(1);
    expect((await cli.run(['clients', 'disable', 'not-a-client'])).code).toBe(1);
  });
});
