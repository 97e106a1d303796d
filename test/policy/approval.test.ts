// The approval queue end to end over real HTTP, with MCP_OAUTH_AGENT_APPROVAL=on: a new agent's
// user sees "waiting for approval" instead of the consent page and the agent gets no token; the
// admin sees the request in the console and approves it (the user can then consent) or refuses it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { AGENT_NAME, PASSWORD, RESOURCE, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import {
  authorize,
  CookieBrowser,
  csrfOf,
  PUBLIC_CLIENT,
  pkcePair,
  type RegisteredClient,
  redeem,
  register,
  tokenRequest,
} from '../support/oauth.js';

describe('approval of new agents', () => {
  let server: TestServer;
  let adminToken: string;

  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_AGENT_APPROVAL: 'on' });
    adminToken = (await server.app.stores.adminTokens.create('approval tests', null, epochSeconds())).token;
  });
  afterAll(() => server?.close());

  /** Alice starts an authorization and signs in; returns where she lands and her browser. */
  async function startAsAlice(client: RegisteredClient) {
    const browser = new CookieBrowser();
    const { verifier, challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: client.redirect_uris[0] ?? '',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read',
      state: 's',
    });
    let step = await browser.follow(
      await browser.get(`${server.url}/authorize?${params}`),
      `${server.url}/authorize`,
      server.url,
    );
    const login = await step.res.text();
    expect(login).toContain('name="password"');
    const res = await browser.post(`${step.url}/login`, { csrf: csrfOf(login), username: 'alice', password: PASSWORD });
    expect(res.status).toBe(303);
    step = await browser.follow(res, `${step.url}/login`, server.url);
    return { browser, step, verifier };
  }

  const api = async (method: string, path: string) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('a new agent waits: no consent page, no code, no token; the console lists it; once approved, consent works', async () => {
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME });
    const { browser, step } = await startAsAlice(client);
    expect(step.res.status).toBe(200);
    const html = await step.res.text();
    expect(html).toContain('Waiting for approval');
    expect(html).toContain(AGENT_NAME);
    expect(html).not.toContain('name="scope"');
    // A consent form posted anyway (by hand or from an old page) changes nothing.
    const forced = await browser.post(`${step.url}/consent`, { csrf: 'x', decision: 'allow', scope: 'mcp:read' });
    expect(forced.status).not.toBe(303);
    expect(await server.app.stores.grantRecords.list({ clientId: client.client_id })).toEqual([]);

    // The agent gets no token: there is no code, and guessing one fails.
    const guessed = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code: 'not-a-code',
      redirect_uri: client.redirect_uris[0] ?? '',
      code_verifier: 'v'.repeat(43),
      client_id: client.client_id,
    });
    expect(guessed.status).toBe(400);

    // The admin sees the request in the console and in the API.
    const root = await signedInClient(server, 'root');
    const page = await root.page('/admin/approvals');
    expect(page.res.status).toBe(200);
    expect(page.html).toContain(client.client_id);
    expect(page.html).toContain('alice');
    const listed = await api('GET', '/admin/api/agent-approvals');
    expect(listed.body.approvals).toEqual([
      expect.objectContaining({ client_id: client.client_id, state: 'pending', requested_by: expect.any(String) }),
    ]);
    expect(
      await server.sql.get("SELECT count(*) AS n FROM audit_events WHERE event = 'agent.approval_requested'"),
    ).toEqual({ n: 1 });

    // Approved from the console: reloading the waiting page now shows consent.
    const approve = await root.post(`/admin/approvals/${encodeURIComponent(client.client_id)}/approve`, {
      csrf: page.csrf,
      back: '/admin/approvals',
    });
    expect(approve.status).toBe(303);
    const again = await browser.get(step.url);
    const consent = await again.text();
    expect(consent).toContain('name="scope"');

    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: RESOURCE,
      scope: 'mcp:read',
      browser,
    });
    const { status } = await redeem(server.url, client, got);
    expect(status).toBe(200);
  });

  it('a refused agent: the user is sent back to the agent with access_denied, and no grant is made', async () => {
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME });
    const refused = await api('POST', `/admin/api/agent-approvals/${encodeURIComponent(client.client_id)}/refuse`);
    expect(refused).toMatchObject({ status: 200, body: { state: 'refused', changed: true } });
    const { step } = await startAsAlice(client);
    const location = new URL(step.url);
    expect(location.origin).not.toBe(server.url);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('code')).toBeNull();
    expect(await server.app.stores.grantRecords.list({ clientId: client.client_id })).toEqual([]);
  });

  it('agents that held a grant before approval was required are not queued', async () => {
    const plain = await serverWithUsers();
    try {
      const client = await register(plain.url, PUBLIC_CLIENT);
      const got = await authorize(plain.url, {
        client,
        username: 'alice',
        password: PASSWORD,
        resource: RESOURCE,
        scope: 'mcp:read',
      });
      expect((await redeem(plain.url, client, got)).status).toBe(200);
      const ops = plain.app.stores.agentApprovals;
      expect(await ops.everGranted(client.client_id)).toBe(true);
      expect(await ops.everGranted('never-seen')).toBe(false);
    } finally {
      await plain.close();
    }
  });

  it("the console shows per-agent policies and the MCP servers' labels", async () => {
    const { agentPolicies, resourceLabels } = server.app.stores;
    await agentPolicies.set(
      { kind: 'domain', value: 'vendor.example' },
      { resources: null, scopes: ['mcp:read'], readOnly: true },
      'cli',
      epochSeconds(),
    );
    await resourceLabels.set(RESOURCE, 'confidential', 'cli', epochSeconds());
    const root = await signedInClient(server, 'root');
    const page = await root.page('/admin/policies');
    expect(page.res.status).toBe(200);
    expect(page.html).toContain('vendor.example');
    expect(page.html).toContain('data-label="confidential"');
    await resourceLabels.set(RESOURCE, null, 'cli', epochSeconds());
    const alice = await signedInClient(server, 'alice');
    expect((await alice.get('/admin/policies')).status).toBe(403);
  });

  it('the CLI lists, approves and refuses; bad ids are one-line errors', async () => {
    const cli = cliFor(server.dataDir);
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME });
    await startAsAlice(client);
    const listed = await cli.run(['approvals', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(client.client_id);
    expect((await cli.run(['approvals', 'approve', client.client_id])).out).toContain('approved');
    expect((await cli.run(['approvals', 'approve', client.client_id])).out).toContain('approved already');
    const bad = await cli.run(['approvals', 'refuse', '']);
    expect(bad.code).not.toBe(0);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
  });
});
