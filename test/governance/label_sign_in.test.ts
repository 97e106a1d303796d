// Stronger sign-in per label (MCP_OAUTH_LABELS_SECOND_FACTOR): an authorization for an MCP server
// whose label needs a second factor sends a password-only sign-in back for more (a user without a
// factor is told where to set one up), a user with TOTP is asked for the code and the token says
// so; a live grant given with a password alone is refused at its next refresh, so the agent comes
// back through the sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { ACR } from '../../src/lib/sign_in_strength.js';
import { consentAndRedeem, enrolTotp, field, startAuthorization, submit, totpCode } from '../factors/support.js';
import { connect, PASSWORD, RESOURCE, refresh, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';

describe('a label that needs a second factor', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let adminToken: string;

  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_LABELS_SECOND_FACTOR: 'confidential' });
    await server.addUser('tina', PASSWORD);
    client = await register(server.url, PUBLIC_CLIENT);
    adminToken = (await server.app.stores.adminTokens.create('label tests', null, epochSeconds())).token;
  });
  afterAll(() => server?.close());

  const labelServer = async (label: string | null) => {
    const res = await fetch(`${server.url}/admin/api/resource-labels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resource: RESOURCE, label }),
    });
    expect(res.status).toBe(200);
  };

  it('asks for a second factor for a server with the label, and refuses a password-only grant at refresh', async () => {
    const before = await connect(server, 'bob');
    await labelServer('confidential');

    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const refused = await submit(server, a, 'login', { username: 'alice', password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('/account/security');
    expect(refused.html).not.toContain('name="scope"');

    const web = await signedInClient(server, 'tina');
    const { secret } = await enrolTotp(web);
    const b = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const step = await submit(server, b, 'login', { username: 'tina', password: PASSWORD });
    expect(step.html).toContain('name="pending"');
    await submit(server, b, 'code', { pending: field(step.html, 'pending'), code: totpCode(secret, 1) });
    expect((await consentAndRedeem(server, client, b, RESOURCE)).acr).toBe(ACR.mfa);

    // bob's grant was given with a password alone, before the label.
    const res = await refresh(server, before);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');

    // Without the label, a password will do again.
    await labelServer(null);
    const c = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    expect((await submit(server, c, 'login', { username: 'alice', password: PASSWORD })).html).toContain(
      'name="scope"',
    );
  });
});
