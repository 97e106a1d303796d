// Service clients in the admin console: the agents page offers the form, a secret is shown once on
// the page that answers the POST and never again, and bad input is a page with the reason that
// changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

describe('service clients in the console', () => {
  let server: TestServer;
  let root: WebClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  it('adds one with a secret shown once', async () => {
    const { html, csrf } = await root.page('/admin/agents');
    expect(html).toContain('action="/admin/service-clients"');
    expect(html).toContain(`value="${RESOURCE}"`);
    const res = await root.request('POST', '/admin/service-clients', {
      form: { csrf, name: 'Nightly sync', resource: RESOURCE, scopes: 'mcp:read', secret: 'yes' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const page = await res.text();
    const secret = /class="client-secret">([^<]+)</.exec(page)?.[1] ?? '';
    const clientId = /class="client-id">([^<]+)</.exec(page)?.[1] ?? '';
    expect(secret.length).toBeGreaterThan(30);
    expect(await server.app.stores.serviceClients.find(clientId)).toMatchObject({
      resources: [RESOURCE],
      scopes: ['mcp:read'],
      authMethod: 'client_secret_basic',
    });
    const after = await root.page('/admin/agents');
    expect(after.html).toContain(clientId);
    expect(after.html).toContain('Nightly sync');
    expect(after.html).not.toContain(secret);
    const audit = (await server.sql.get(
      "SELECT details FROM audit_events WHERE event = 'client.registered' AND client_id = ?",
      [clientId],
    )) as { details: string };
    expect(audit.details).toContain('"via":"service"');
    expect(audit.details).not.toContain(secret);
  });

  it('refuses bad input with a page and writes nothing', async () => {
    const before = (await server.app.stores.serviceClients.list()).length;
    for (const [form, reason] of [
      [{ name: 'x', resource: RESOURCE, scopes: 'mcp:read', jwks: '{not json' }, 'The key set is not JSON.'],
      [{ name: 'x', resource: RESOURCE, scopes: 'mcp:read' }, 'public keys'],
      [{ name: 'x', scopes: 'mcp:read', secret: 'yes' }, 'at least one MCP server'],
    ] as const) {
      const { csrf } = await root.page('/admin/agents');
      const res = await root.request('POST', '/admin/service-clients', { form: { csrf, ...form } });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain(reason);
    }
    expect((await server.app.stores.serviceClients.list()).length).toBe(before);
  });
});
