// Editing governance policy in the admin console over HTTP: per-agent and per-group policies,
// groups and their members, labels on servers and tools. Every form needs the page's CSRF token,
// comes back with a notice, is audited with the admin as actor, and a bad form changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import {
  auditRows,
  connect,
  RESOURCE,
  refresh,
  serverWithUsers,
  signedInClient,
  type WebClient,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { waitFor } from '../support/wait.js';

describe('governance in the admin console', () => {
  let server: TestServer;
  let root: WebClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server?.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  it('sets and removes a per-agent policy with the page’s CSRF token, and refuses a form without it', async () => {
    const { csrf, html } = await root.page('/admin/policies');
    expect(html).toContain('action="/admin/policies/agents"');
    const withoutCsrf = await root.post('/admin/policies/agents', { kind: 'domain', value: 'vendor.example' });
    expect(withoutCsrf.status).toBe(403);
    expect(await server.app.stores.agentPolicies.list()).toEqual([]);

    const res = await root.post('/admin/policies/agents', {
      csrf,
      back: '/admin/policies',
      kind: 'domain',
      value: 'vendor.example',
      resource: RESOURCE,
      scopes: 'mcp:read',
      read_only: 'on',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/policies?notice=policy-set&n=0');
    const [policy] = await server.app.stores.agentPolicies.list();
    expect(policy).toMatchObject({
      match: { kind: 'domain', value: 'vendor.example' },
      scopes: ['mcp:read'],
      readOnly: true,
    });
    expect(String((await auditRows(server, 'policy.set')).at(-1)?.details)).toContain(
      `"actor_id":"${await userId('root')}"`,
    );
    const page = await root.page('/admin/policies?notice=policy-set&n=0');
    expect(page.html).toContain('Policy saved.');
    expect(page.html).toContain('vendor.example');

    // A bad form is a page with the reason, and nothing changes.
    const bad = await root.post('/admin/policies/agents', { csrf, kind: 'domain', value: 'not a domain' });
    expect(bad.status).toBe(400);
    const unknown = await root.post('/admin/policies/agents', {
      csrf,
      kind: 'client',
      value: 'x',
      resource: 'https://nowhere.example/mcp',
    });
    expect(unknown.status).toBe(400);
    expect((await server.app.stores.agentPolicies.list()).length).toBe(1);

    const removed = await root.post(`/admin/policies/agents/${policy?.id}/remove`, { csrf, back: '/admin/policies' });
    expect(removed.headers.get('location')).toBe('/admin/policies?notice=policy-removed');
    expect(await server.app.stores.agentPolicies.list()).toEqual([]);
    expect((await root.post('/admin/policies/agents/999999/remove', { csrf })).status).toBe(404);
  });

  it('creates a group, adds a member, and a group policy set in the console narrows the member’s grant', async () => {
    const alice = await connect(server, 'alice');
    const { csrf } = await root.page('/admin/groups');
    const created = await root.post('/admin/groups', {
      csrf,
      back: '/admin/groups',
      name: 'interns',
      description: 'Summer',
    });
    expect(created.headers.get('location')).toBe('/admin/groups?notice=group-created');
    const group = await server.app.stores.groups.findByName('interns');
    expect(group).toBeDefined();
    const listed = await root.page('/admin/groups');
    expect(listed.html).toContain(`href="/admin/groups/${group?.id}"`);

    const added = await root.post(`/admin/groups/${group?.id}/members`, {
      csrf,
      back: `/admin/groups/${group?.id}`,
      username: 'alice',
    });
    expect(added.status).toBe(303);
    expect((await root.page(`/admin/groups/${group?.id}`)).html).toContain('data-member="alice"');
    expect((await root.post(`/admin/groups/${group?.id}/members`, { csrf, username: 'nobody' })).status).toBe(404);

    const set = await root.post('/admin/policies/groups', {
      csrf,
      back: '/admin/policies',
      group: String(group?.id),
      read_only: 'on',
    });
    expect(set.headers.get('location')).toBe('/admin/policies?notice=policy-set&n=1');
    const changedAt = epochSeconds();
    await waitFor(() => epochSeconds() > changedAt, 'the second after the change');
    const res = await refresh(server, alice);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe('mcp:read');
    expect((await auditRows(server, 'group_policy.set')).length).toBe(1);
    expect((await auditRows(server, 'group.member_added')).length).toBe(1);

    const [policy] = await server.app.stores.groups.listPolicies();
    expect((await root.post(`/admin/policies/groups/${policy?.id}/remove`, { csrf })).status).toBe(303);
    const removed = await root.post(`/admin/groups/${group?.id}/remove`, { csrf, back: '/admin/groups' });
    expect(removed.headers.get('location')).toBe('/admin/groups?notice=group-removed');
    expect(await server.app.stores.groups.findByName('interns')).toBeUndefined();
    expect((await root.page(`/admin/groups/${group?.id}`)).res.status).toBe(404);
  });

  it('labels a server and a tool from the console', async () => {
    const { csrf } = await root.page('/admin/policies');
    const server1 = await root.post('/admin/labels/servers', {
      csrf,
      back: '/admin/policies',
      resource: RESOURCE,
      label: 'internal',
    });
    expect(server1.status).toBe(303);
    expect(await server.app.stores.resourceLabels.labelOf(RESOURCE)).toBe('internal');
    const tool = await root.post('/admin/labels/tools', {
      csrf,
      back: '/admin/policies',
      resource: RESOURCE,
      tool: 'delete_order',
      label: 'personal_data',
    });
    expect(tool.status).toBe(303);
    const page = await root.page('/admin/policies');
    expect(page.html).toContain('data-tool="delete_order"');
    expect(
      (await root.post('/admin/labels/tools', { csrf, resource: RESOURCE, tool: 'x', label: 'secret' })).status,
    ).toBe(400);
    expect(
      (await root.post('/admin/labels/tools', { csrf, resource: RESOURCE, tool: 'a b', label: 'public' })).status,
    ).toBe(400);
    expect((await server.app.stores.toolLabels.list()).map((l) => l.tool)).toEqual(['delete_order']);
    expect((await auditRows(server, 'tool.labelled')).length).toBe(1);
  });

  it('is for admins only', async () => {
    const alice = await signedInClient(server, 'alice');
    expect((await alice.get('/admin/policies')).status).toBe(403);
    expect((await alice.get('/admin/groups')).status).toBe(403);
    const { csrf } = await alice.page('/account');
    expect((await alice.post('/admin/groups', { csrf, name: 'mine' })).status).toBe(403);
    expect(await server.app.stores.groups.findByName('mine')).toBeUndefined();
  });
});
