// Who may use the admin console and API, over every route in their route tables: a non-admin gets
// 403 everywhere, nobody signed in is sent to sign in (pages) or gets 401 (API), and a signed-in
// admin's POST without the CSRF token fails. None of these refusals changes anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../src/admin/api.js';
import { CONSOLE_ROUTES } from '../../src/admin/console.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { type Connection, connect, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

const POSTS = (routes: readonly string[]) => routes.filter((r) => r.startsWith('POST '));

describe('admin access control', () => {
  let server: TestServer;
  let bob: Connection;
  let alice: WebClient;
  let root: WebClient;

  beforeAll(async () => {
    server = await serverWithUsers();
    bob = await connect(server, 'bob');
    alice = await signedInClient(server, 'alice');
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  const bobId = async () => (await server.app.stores.users.findByUsername('bob'))?.id ?? '';

  /** "POST /admin/users/:id/disable" → method and a path naming real things (bob, bob's grant, bob's agent). */
  async function concrete(route: string): Promise<{ method: string; path: string }> {
    const [method = '', pattern = ''] = route.split(' ');
    const path = pattern
      .replace(/\/grants\/:id/, `/grants/${bob.grantId}`)
      .replace(/\/alerts\/:id/, '/alerts/1')
      .replace(/\/users\/:id/, `/users/${await bobId()}`)
      .replace(/\/users\/:username/, '/users/bob')
      .replace(/\/(agents|clients)\/:id/, `/$1/${encodeURIComponent(bob.client.client_id)}`)
      .replace(/\/client-domains\/:domain/, '/client-domains/agents.example.com')
      .replace(/\/agent-policies\/:id/, '/agent-policies/1')
      .replace(/\/(groups|group-policies|policies\/agents|policies\/groups)\/:id/, '/$1/1')
      .replace(/\/members\/:(user|username)/, '/members/bob')
      .replace(/\/(approvals|agent-approvals)\/:id/, `/$1/${encodeURIComponent(bob.client.client_id)}`);
    expect(path).not.toContain(':');
    return { method, path };
  }

  /** Nothing an admin route could change has changed. */
  async function nothingChanged(auditBefore: number, feedBefore: number): Promise<void> {
    expect((await server.app.stores.grantRecords.find(bob.grantId))?.revokedAt).toBeNull();
    expect((await server.app.stores.users.findByUsername('bob'))?.disabled).toBe(false);
    expect((await server.app.stores.clientState.find(bob.client.client_id))?.disabledAt ?? null).toBeNull();
    expect(await server.app.stores.revocations.latestSeq()).toBe(feedBefore);
    expect(await auditCount()).toBe(auditBefore);
  }
  const auditCount = async () =>
    ((await server.sql.get("SELECT count(*) AS n FROM audit_events WHERE event NOT LIKE 'login.%'")) as { n: number })
      .n;
  const snapshot = async () => [await auditCount(), await server.app.stores.revocations.latestSeq()] as const;

  it('the route tables cover the console and the API', () => {
    expect(CONSOLE_ROUTES.length).toBeGreaterThanOrEqual(10);
    expect(API_ROUTES).toEqual(
      expect.arrayContaining([
        'GET /admin/api/grants',
        'POST /admin/api/grants/:id/revoke',
        'POST /admin/api/users/:username/revoke-grants',
        'POST /admin/api/clients/:id/disable',
        'POST /admin/api/clients/:id/enable',
        'GET /admin/api/clients',
        'POST /admin/api/users/:username/disable',
        'POST /admin/api/users/:username/enable',
      ]),
    );
  });

  it.each(CONSOLE_ROUTES)('a non-admin gets 403 from the console: %s', async (route) => {
    const before = await snapshot();
    const { method, path } = await concrete(route);
    const { csrf } = await alice.page('/account');
    const res = await alice.request(method, path, method === 'POST' ? { form: { csrf } } : {});
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toContain('Only administrators can use the admin console.');
    await nothingChanged(...before);
  });

  it.each(API_ROUTES)('a non-admin session gets 403 from the API: %s', async (route) => {
    const before = await snapshot();
    const { method, path } = await concrete(route);
    const { csrf } = await alice.page('/account');
    const res = await alice.request(method, path, { headers: { accept: 'application/json', 'x-csrf-token': csrf } });
    expect(res.status).toBe(403);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      error: 'forbidden',
      error_description: 'only administrators may use the admin API',
    });
    await nothingChanged(...before);
  });

  it.each(API_ROUTES)('a token tied to a user who is not an admin gets 403: %s', async (route) => {
    const aliceId = (await server.app.stores.users.findByUsername('alice'))?.id ?? '';
    const { token } = await server.app.stores.adminTokens.create('not really admin', aliceId, epochSeconds());
    const before = await snapshot();
    const { method, path } = await concrete(route);
    const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('forbidden');
    await nothingChanged(...before);
  });

  it.each(API_ROUTES)('no credentials: 401 with WWW-Authenticate: Bearer from %s', async (route) => {
    const before = await snapshot();
    const { method, path } = await concrete(route);
    const res = await fetch(`${server.url}${path}`, { method });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="mcp-oauth admin"$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized');
    await nothingChanged(...before);
  });

  it.each([
    ['a made-up token', `Bearer mcpadm_${'A'.repeat(43)}`],
    ['a malformed token', 'Bearer not-a-token'],
    ['another scheme', 'Basic cm9vdDpwYXNzd29yZA=='],
    ['an empty bearer', 'Bearer '],
  ])('%s: 401 invalid_token', async (_case, authorization) => {
    const res = await fetch(`${server.url}/admin/api/grants`, { headers: { authorization } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="mcp-oauth admin", error="invalid_token"');
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('an unknown API path is 401 without credentials (nothing to learn) and 404 JSON with them', async () => {
    expect((await fetch(`${server.url}/admin/api/nope`)).status).toBe(401);
    const res = await root.request('GET', '/admin/api/nope', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('not_found');
  });

  it.each(CONSOLE_ROUTES)('nobody signed in is sent to sign in by %s', async (route) => {
    const before = await snapshot();
    const { method, path } = await concrete(route);
    const res = await fetch(`${server.url}${path}`, {
      method,
      redirect: 'manual',
      ...(method === 'POST'
        ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x' }
        : {}),
    });
    expect(res.status).toBe(303);
    const next = method === 'GET' ? path : '/admin';
    expect(res.headers.get('location')).toBe(`/account/login?next=${encodeURIComponent(next)}`);
    await nothingChanged(...before);
  });

  it.each(POSTS(CONSOLE_ROUTES))('an admin POST without a valid CSRF token fails with 403: %s', async (route) => {
    const before = await snapshot();
    const { path } = await concrete(route);
    const { csrf: alicesToken } = await alice.page('/account');
    const forms: Record<string, string>[] = [{}, { csrf: '' }, { csrf: 'A'.repeat(43) }, { csrf: alicesToken }];
    for (const form of forms) {
      const res = await root.request('POST', path, { form });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('the form expired or did not come from this site');
    }
    // Not a form at all (a cross-site JSON or text/plain post): refused before anything is read.
    const json = await root.request('POST', path, {
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(415);
    await nothingChanged(...before);
  });

  it.each(POSTS(API_ROUTES))(
    'an admin session POST to the API without X-CSRF-Token fails with 403: %s',
    async (route) => {
      const before = await snapshot();
      const { path } = await concrete(route);
      const { csrf: alicesToken } = await alice.page('/account');
      const tries: Record<string, string>[] = [{}, { 'x-csrf-token': 'A'.repeat(43) }, { 'x-csrf-token': alicesToken }];
      for (const headers of tries) {
        const res = await root.request('POST', path, { headers: { accept: 'application/json', ...headers } });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { error: string }).error).toBe('invalid_csrf_token');
      }
      await nothingChanged(...before);
    },
  );
});
