// The admin console over HTTP: sign-in leads there, the grants list filters, and each action
// (revoke one, all of a user, all of an agent, disable and enable agents and users) works with the
// page's CSRF token, returns to the page with a notice, and is audited with the admin as actor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_NAME,
  auditRows,
  connect,
  RESOURCE,
  refresh,
  serverWithUsers,
  signedInClient,
  WebClient,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';

describe('admin console', () => {
  let server: TestServer;
  let root: WebClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';
  const by = async () => `"by":"admin","actor_id":"${await userId('root')}"`;

  it('sends an admin who is not signed in to sign in and back to /admin', async () => {
    const web = new WebClient(server.url);
    const res = await web.get('/admin');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login?next=%2Fadmin');
    const signed = await web.signIn('root', undefined, '/admin');
    expect(signed.headers.get('location')).toBe('/admin');
    const page = await web.page('/admin');
    expect(page.res.status).toBe(200);
    expect(page.res.headers.get('cache-control')).toBe('no-store');
    expect(page.res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.html).toContain('<h1>Grants</h1>');
  });

  it('lists grants with the agent, the MCP server and the user, and filters them', async () => {
    const a = await connect(server, 'alice');
    const b = await connect(server, 'bob');
    const all = await root.page('/admin');
    expect(all.html).toContain(a.grantId);
    expect(all.html).toContain(b.grantId);
    expect(all.html).toContain(AGENT_NAME);
    expect(all.html).toContain(RESOURCE);
    const alice = await root.page('/admin?user=alice');
    expect(alice.html).toContain(a.grantId);
    expect(alice.html).not.toContain(b.grantId);
    expect(alice.html).toContain('Revoke all grants of alice');
    const agent = await root.page(`/admin?client=${encodeURIComponent(b.client.client_id)}`);
    expect(agent.html).toContain(b.grantId);
    expect(agent.html).not.toContain(a.grantId);
    expect(agent.html).toContain('Revoke all grants of this agent');
    const none = await root.page('/admin?user=nobody');
    expect(none.res.status).toBe(200);
    expect(none.html).toContain('no user named nobody');
    expect(none.html).not.toContain(a.grantId);
    const bad = await root.page('/admin?state=%00&user=a&user=b');
    expect(bad.res.status).toBe(200);
    expect(bad.html).toContain('each filter may be given once');
  });

  it('revokes one grant and comes back to the filtered list with a notice', async () => {
    const a = await connect(server, 'alice');
    const { csrf } = await root.page('/admin?user=alice');
    const res = await root.post(`/admin/grants/${a.grantId}/revoke`, { csrf, back: '/admin?user=alice' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin?user=alice&notice=grant-revoked');
    expect((await root.page(res.headers.get('location') ?? '')).html).toContain('Grant revoked.');
    expect((await refresh(server, a)).status).toBe(400);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedBy).toBe(`admin:${await userId('root')}`);
    expect((await auditRows(server, 'grant.revoked')).at(-1)?.details).toContain(await by());
    const revoked = await root.page('/admin?user=alice&state=revoked');
    expect(revoked.html).toContain(a.grantId);
    // An unknown grant is 404; a "back" that leaves the console is ignored.
    expect((await root.post('/admin/grants/nope/revoke', { csrf })).status).toBe(404);
    const again = await root.post(`/admin/grants/${a.grantId}/revoke`, { csrf, back: 'https://evil.example/' });
    expect(again.headers.get('location')).toBe('/admin?notice=grant-already-revoked');
  });

  it("revokes all of a user's grants, and all of an agent's", async () => {
    const a1 = await connect(server, 'alice');
    const a2 = await connect(server, 'alice');
    const b = await connect(server, 'bob', a2.client);
    const { csrf } = await root.page('/admin/users');
    const res = await root.post(`/admin/users/${await userId('alice')}/revoke-grants`, { csrf, back: '/admin/users' });
    expect(res.headers.get('location')).toMatch(/^\/admin\/users\?notice=user-grants-revoked&n=\d+$/);
    expect((await refresh(server, a1)).status).toBe(400);
    expect((await refresh(server, a2)).status).toBe(400);
    expect((await refresh(server, b)).status).toBe(200);
    const agent = await root.post(`/admin/agents/${encodeURIComponent(b.client.client_id)}/revoke-grants`, {
      csrf,
      back: '/admin/agents',
    });
    expect(agent.headers.get('location')).toBe('/admin/agents?notice=agent-grants-revoked&n=1');
    expect((await refresh(server, b)).status).toBe(400);
    const revokedBy = await by();
    expect(
      (await auditRows(server, 'grant.revoked')).filter((r) => String(r.details).includes(revokedBy)).length,
    ).toBeGreaterThanOrEqual(3);
  });

  it('shows agents with how they registered and where they redirect, and disables and enables them', async () => {
    const a = await connect(server, 'alice');
    const page = await root.page('/admin/agents');
    expect(page.html).toContain(a.client.client_id);
    expect(page.html).toContain('dynamic');
    expect(page.html).toContain('<code>127.0.0.1</code>');
    const id = encodeURIComponent(a.client.client_id);
    const off = await root.post(`/admin/agents/${id}/disable`, { csrf: page.csrf, back: '/admin/agents' });
    expect(off.headers.get('location')).toBe('/admin/agents?notice=agent-disabled&n=1');
    expect((await refresh(server, a)).status).toBe(401);
    expect((await root.page('/admin/agents?notice=agent-disabled&n=1')).html).toContain('Agent disabled');
    expect((await auditRows(server, 'client.disabled')).at(-1)).toMatchObject({ client_id: a.client.client_id });
    const on = await root.post(`/admin/agents/${id}/enable`, { csrf: page.csrf, back: '/admin/agents' });
    expect(on.headers.get('location')).toBe('/admin/agents?notice=agent-enabled');
    expect((await auditRows(server, 'client.enabled')).at(-1)).toMatchObject({ client_id: a.client.client_id });
    expect((await root.post('/admin/agents/nope/disable', { csrf: page.csrf })).status).toBe(404);
  });

  it('disables and enables a user, but not the admin themselves', async () => {
    await server.addUser('frank', 'correct horse battery staple');
    const f = await connect(server, 'frank');
    const frank = await signedInClient(server, 'frank');
    const { csrf, html } = await root.page('/admin/users');
    expect(html).toContain('data-username="frank"');
    const off = await root.post(`/admin/users/${await userId('frank')}/disable`, { csrf, back: '/admin/users' });
    expect(off.headers.get('location')).toBe('/admin/users?notice=user-disabled&n=1');
    expect((await server.app.stores.users.findByUsername('frank'))?.disabled).toBe(true);
    expect((await refresh(server, f)).status).toBe(400);
    expect((await frank.get('/account')).status).toBe(303);
    expect((await auditRows(server, 'user.disabled')).at(-1)).toMatchObject({ user_id: await userId('frank') });
    const on = await root.post(`/admin/users/${await userId('frank')}/enable`, { csrf, back: '/admin/users' });
    expect(on.headers.get('location')).toBe('/admin/users?notice=user-enabled');
    expect((await server.app.stores.users.findByUsername('frank'))?.disabled).toBe(false);
    const self = await root.post(`/admin/users/${await userId('root')}/disable`, { csrf });
    expect(self.status).toBe(400);
    expect((await server.app.stores.users.findByUsername('root'))?.disabled).toBe(false);
    expect((await root.post('/admin/users/nope/enable', { csrf })).status).toBe(404);
  });
});
