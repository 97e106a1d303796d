// The "Connected agents" page over HTTP: what it shows, and that a user can revoke only their own
// grants, only with the page's CSRF token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_NAME,
  auditRows,
  connect,
  RESOURCE,
  RESOURCE_NAME,
  refresh,
  serverWithUsers,
  signedInClient,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';

describe('Connected agents page', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers();
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  it("lists each of the user's agents: name (self-declared), client_id, MCP server, scopes in words, dates", async () => {
    const mine = await connect(server, 'alice', undefined, 'mcp:read');
    const theirs = await connect(server, 'bob');
    const web = await signedInClient(server, 'alice');
    const { res, html } = await web.page('/account');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(html).toContain(AGENT_NAME);
    expect(html).toContain('self-declared name');
    expect(html).toContain(mine.client.client_id);
    expect(html).toContain(RESOURCE_NAME);
    expect(html).toContain(RESOURCE);
    expect(html).toContain('Read data and list tools');
    expect(html).not.toContain('Change data and call tools that write');
    expect(html).toMatch(/Since \d{4}-\d\d-\d\d \d\d:\d\d UTC · last used \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(html).toContain(`/account/grants/${mine.grantId}/revoke`);
    expect(html).not.toContain(theirs.grantId);
  });

  it('escapes what an agent chose to call itself', async () => {
    const agent = await register(server.url, { ...PUBLIC_CLIENT, client_name: '<script>alert(1)</script>' });
    const evil = await connect(server, 'alice', agent);
    const web = await signedInClient(server, 'alice');
    const { html } = await web.page('/account');
    expect(html).toContain(evil.grantId);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it("names the agent in the revoke notice only for the reader's own revoked grant", async () => {
    const c = await connect(server, 'alice');
    const other = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Secret Helper' });
    const d = await connect(server, 'alice', other);
    const alice = await signedInClient(server, 'alice');
    // Still active: the generic notice.
    const active = await alice.page(`/account?notice=revoked&grant=${c.grantId}`);
    expect(active.html).toContain('<p class="notice" role="status">Access revoked. The agent');
    const { csrf } = await alice.page('/account');
    await alice.post(`/account/grants/${d.grantId}/revoke`, { csrf });
    // Someone else's revoked grant: nothing about it shows.
    const bob = await signedInClient(server, 'bob');
    const foreign = await bob.page(`/account?notice=revoked&grant=${d.grantId}`);
    expect(foreign.html).not.toContain('Secret Helper');
    expect(foreign.html).toContain('<p class="notice" role="status">Access revoked. The agent');
  });

  it('shows a confirmation naming the agent before revoking, and changes nothing on GET', async () => {
    const c = await connect(server, 'alice');
    const web = await signedInClient(server, 'alice');
    const confirm = await web.page(`/account/grants/${c.grantId}/revoke`);
    expect(confirm.html).toContain(
      `Revoke the access of <strong>${AGENT_NAME}</strong> on <strong>${RESOURCE_NAME}</strong>?`,
    );
    expect(confirm.html).toContain(`action="/account/grants/${c.grantId}/revoke"`);
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt).toBeNull();
    expect((await refresh(server, c)).status).toBe(200);
    // Nobody else's grant gets a confirmation page either.
    const bob = await signedInClient(server, 'bob');
    const res = await bob.get(`/account/grants/${c.grantId}/revoke`);
    expect(res.status).toBe(404);
  });

  it('revokes an own grant with the CSRF token: audited, refresh token refused, gone from the page', async () => {
    const c = await connect(server, 'alice');
    const web = await signedInClient(server, 'alice');
    const { csrf } = await web.page('/account');
    const res = await web.post(`/account/grants/${c.grantId}/revoke`, { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/account?notice=revoked&grant=${c.grantId}`);
    const after = await web.page(res.headers.get('location') ?? '');
    expect(after.html).toContain(`Access revoked for ${AGENT_NAME} on ${RESOURCE_NAME}.`);
    expect(after.html).not.toContain(`data-grant-id="${c.grantId}"`);
    expect(await server.app.stores.grantRecords.find(c.grantId)).toMatchObject({
      revokedBy: `user:${await userId('alice')}`,
    });
    expect((await refresh(server, c)).status).toBe(400);
    expect((await auditRows(server, 'grant.revoked')).at(-1)).toMatchObject({
      grant_id: c.grantId,
      user_id: await userId('alice'),
      client_id: c.client.client_id,
      details: JSON.stringify({ by: 'user', actor_id: await userId('alice') }),
    });
  });

  it.each([
    ["another user's grant", async () => (await connect(server, 'bob')).grantId],
    ['an unknown grant id', async () => 'no-such-grant'],
  ])('answers 404 for %s and revokes nothing', async (_case, grantIdOf) => {
    const grantId = await grantIdOf();
    const web = await signedInClient(server, 'alice');
    const { csrf } = await web.page('/account');
    const before = await server.app.stores.revocations.latestSeq();
    const res = await web.post(`/account/grants/${encodeURIComponent(grantId)}/revoke`, { csrf });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('There is no such connected agent on your account.');
    expect(await server.app.stores.revocations.latestSeq()).toBe(before);
    const record = await server.app.stores.grantRecords.find(grantId);
    if (record) expect(record.revokedAt).toBeNull();
  });

  it('refuses a revoke without the CSRF token (or with another session’s) and changes nothing', async () => {
    const c = await connect(server, 'alice');
    const web = await signedInClient(server, 'alice');
    const other = await signedInClient(server, 'alice');
    const { csrf: othersToken } = await other.page('/account');
    await web.page('/account');
    const forms: Record<string, string>[] = [{}, { csrf: 'x'.repeat(43) }, { csrf: othersToken }];
    for (const form of forms) {
      const res = await web.post(`/account/grants/${c.grantId}/revoke`, form);
      expect(res.status).toBe(403);
    }
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt).toBeNull();
    expect((await refresh(server, c)).status).toBe(200);
  });

  it('sends a revoke without a session to the sign-in page and revokes nothing', async () => {
    const c = await connect(server, 'alice');
    const res = await fetch(`${server.url}/account/grants/${c.grantId}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=x',
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login?next=%2Faccount');
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt).toBeNull();
  });
});
