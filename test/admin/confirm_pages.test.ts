// The confirmation step before the console's destructive actions, over HTTP: the list's buttons
// open a page (GET, no CSRF token in the URL) that names the target and changes nothing; only its
// form (POST with the session's CSRF token) acts, and Cancel goes back where the admin was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_NAME,
  connect,
  RESOURCE_NAME,
  refresh,
  serverWithUsers,
  signedInClient,
  type WebClient,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';

describe('admin confirmation pages', () => {
  let server: TestServer;
  let root: WebClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  it('the lists open the confirmation with a GET form that carries no CSRF token', async () => {
    const c = await connect(server, 'alice');
    const grants = await root.page('/admin?user=alice');
    expect(grants.html).toContain(`<form method="get" action="/admin/grants/${c.grantId}/revoke" class="inline">`);
    expect(grants.html).toContain(`<form method="get" action="/admin/users/${await userId('alice')}/revoke-grants"`);
    const agents = await root.page('/admin/agents');
    const id = encodeURIComponent(c.client.client_id);
    expect(agents.html).toContain(`<form method="get" action="/admin/agents/${id}/disable" class="inline">`);
    expect(agents.html).toContain(`<form method="get" action="/admin/agents/${id}/revoke-grants" class="inline">`);
    const users = await root.page('/admin/users');
    expect(users.html).toContain(
      `<form method="get" action="/admin/users/${await userId('alice')}/disable" class="inline">`,
    );
    for (const html of [grants.html, agents.html, users.html]) {
      expect(html).not.toMatch(/<form method="get"[^>]*>\s*<input type="hidden" name="csrf"/);
    }
  });

  it('names what is about to happen, changes nothing, and posts only from its own form', async () => {
    const c = await connect(server, 'alice');
    const back = encodeURIComponent('/admin?user=alice');
    const page = await root.page(`/admin/grants/${c.grantId}/revoke?back=${back}`);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain(
      `Revoke the grant of <strong>alice</strong> to <strong>${AGENT_NAME}</strong> on <strong>${RESOURCE_NAME}</strong>?`,
    );
    expect(page.html).toContain(`<form method="post" action="/admin/grants/${c.grantId}/revoke"`);
    expect(page.html).toContain('<input type="hidden" name="back" value="/admin?user=alice">');
    expect(page.html).toContain('<a href="/admin?user=alice" class="cancel">Cancel</a>');
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt).toBeNull();
    expect((await refresh(server, c)).status).toBe(200);

    const res = await root.post(`/admin/grants/${c.grantId}/revoke`, { csrf: page.csrf, back: '/admin?user=alice' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin?user=alice&notice=grant-revoked');
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt).not.toBeNull();
  });

  it('names the user, the agent, or both, in each language', async () => {
    const c = await connect(server, 'bob');
    const bob = await userId('bob');
    const client = encodeURIComponent(c.client.client_id);
    expect((await root.page(`/admin/users/${bob}/disable`)).html).toContain(
      'Disable <strong>bob</strong>? All their grants are revoked',
    );
    expect((await root.page(`/admin/users/${bob}/revoke-grants?client=${client}`)).html).toContain(
      `Revoke all grants of <strong>bob</strong> to <strong>${AGENT_NAME}</strong>?`,
    );
    const agentJa = await root.page(`/admin/agents/${client}/disable?lang=ja`);
    expect(agentJa.html).toContain(`<strong>${AGENT_NAME}</strong> を無効にしますか?`);
    const agentKo = await root.page(`/admin/agents/${client}/revoke-grants?lang=ko`);
    expect(agentKo.html).toContain(`<strong>${AGENT_NAME}</strong>의 모든 권한을 취소하시겠습니까?`);
    expect((await server.app.stores.users.findByUsername('bob'))?.disabled).toBe(false);
    expect((await refresh(server, c)).status).toBe(200);
  });

  it('answers 404 for an unknown target, and keeps Cancel inside the console', async () => {
    for (const path of ['/admin/grants/nope/revoke', '/admin/users/nope/disable', '/admin/agents/nope/disable']) {
      expect((await root.get(path)).status, path).toBe(404);
    }
    const c = await connect(server, 'alice');
    const page = await root.page(
      `/admin/grants/${c.grantId}/revoke?back=${encodeURIComponent('https://evil.example/')}`,
    );
    expect(page.html).toContain('<a href="/admin" class="cancel">');
  });

  it('marks times up as <time> in UTC, saying so', async () => {
    await connect(server, 'alice');
    const html = (await root.page('/admin?user=alice')).html;
    expect(html).toMatch(/<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\dZ">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
  });

  it('is for admins only', async () => {
    const c = await connect(server, 'alice');
    const alice = await signedInClient(server, 'alice');
    expect((await alice.get(`/admin/grants/${c.grantId}/revoke`)).status).toBe(403);
  });
});
