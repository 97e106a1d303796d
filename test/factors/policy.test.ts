// How strong a sign-in an authorization needs: the request's acr_values (what an agent sends after
// a resource server's insufficient_user_authentication challenge) sends a weaker session back to
// the sign-in page; MCP_OAUTH_SECOND_FACTOR asks it of everyone, of admins (also for the console),
// or of whoever allows a write scope; users with nothing to offer are told where to set it up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR, acrValuesFor } from '../../src/lib/sign_in_strength.js';
import { PASSWORD, RESOURCE, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { consentAndRedeem, enrolTotp, field, startAuthorization, submit, totpCode } from './support.js';

describe('acr_values in the authorization request', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    await server.addUser('tina', PASSWORD);
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  it('advertises the sign-in strengths it issues', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.acr_values_supported).toEqual([ACR.password, ACR.mfa, ACR.phr]);
  });

  it('sends a password-only session back to sign in when more is asked, and tells a user without a factor where to get one', async () => {
    const first = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const signed = await submit(server, first, 'login', { username: 'alice', password: PASSWORD });
    expect(signed.html).toContain('name="scope"');
    expect((await consentAndRedeem(server, client, first, RESOURCE)).acr).toBe(ACR.password);

    // Same browser, so the same oidc-provider session: without acr_values, no sign-in again.
    const again = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' }, first.browser);
    expect(again.html).not.toContain('name="password"');

    const stepUp = await startAuthorization(
      server,
      client,
      { resource: RESOURCE, scope: 'mcp:read', acr_values: acrValuesFor('mfa') },
      first.browser,
    );
    expect(stepUp.html).toContain('name="password"');
    expect(stepUp.html).toContain('id="stronger"');
    const refused = await submit(server, stepUp, 'login', { username: 'alice', password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('/account/security');
    expect(refused.html).not.toContain('name="scope"');
  });

  it('asks a user with TOTP for the code, and the token then satisfies the request', async () => {
    const web = await signedInClient(server, 'tina');
    const { secret } = await enrolTotp(web);
    const a = await startAuthorization(server, client, {
      resource: RESOURCE,
      scope: 'mcp:read',
      acr_values: acrValuesFor('mfa'),
    });
    const step = await submit(server, a, 'login', { username: 'tina', password: PASSWORD });
    await submit(server, a, 'code', { pending: field(step.html, 'pending'), code: totpCode(secret, 1) });
    expect((await consentAndRedeem(server, client, a, RESOURCE)).acr).toBe(ACR.mfa);
  });

  it('offers only a passkey when a phishing-resistant sign-in is asked, and refuses a password post', async () => {
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read', acr_values: 'phr' });
    expect(a.html).not.toContain('name="password"');
    expect(a.html).toContain('data-passkey="sign-in"');
    const refused = await submit(server, a, 'login', { username: 'alice', password: PASSWORD });
    expect(refused.status).toBe(400);
    expect(refused.html).not.toContain('name="scope"');
  });

  it('refuses a malformed max_age, as it would with openid', async () => {
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read', max_age: 'soon' });
    // This agent has completed an authorization before, so the error goes back to it.
    const back = new URL(a.url);
    expect(back.origin).not.toBe(server.url);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toBe('max_age must be a non-negative integer');
  });

  it('ignores acr values it does not know', async () => {
    const a = await startAuthorization(server, client, {
      resource: RESOURCE,
      scope: 'mcp:read',
      acr_values: 'urn:example:unknown',
    });
    const signed = await submit(server, a, 'login', { username: 'bob', password: PASSWORD });
    expect(signed.html).toContain('name="scope"');
  });
});

describe('MCP_OAUTH_SECOND_FACTOR=write', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_SECOND_FACTOR: 'write' });
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  it('lets a password allow reading, but not writing', async () => {
    const read = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    expect((await submit(server, read, 'login', { username: 'alice', password: PASSWORD })).html).toContain(
      'name="scope"',
    );
    const write = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read mcp:write' });
    const refused = await submit(server, write, 'login', { username: 'alice', password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.html).not.toContain('name="scope"');
  });
});

describe('MCP_OAUTH_SECOND_FACTOR=admins', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_SECOND_FACTOR: 'admins' });
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  it('sends an admin without a factor from the console to set one up, and lets them in once they have', async () => {
    const web = await signedInClient(server, 'root');
    const res = await web.get('/admin');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/security?notice=factor-required');
    const api = await web.get('/admin/api/grants', { accept: 'application/json' });
    expect(api.status).toBe(403);
    const page = await (await web.get('/account/security?notice=factor-required')).text();
    expect(page).toContain('id="factor-required"');
    const { secret } = await enrolTotp(web);
    expect((await web.get('/admin')).status).toBe(200);
    expect((await web.get('/admin/api/grants', { accept: 'application/json' })).status).toBe(200);

    // The next sign-in of the admin asks for the code too.
    const fresh = await signedInClient(server, 'bob');
    expect((await fresh.get('/account')).status).toBe(200);
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const step = await submit(server, a, 'login', { username: 'root', password: PASSWORD });
    expect(step.html).toContain('name="code"');
    await submit(server, a, 'code', { pending: field(step.html, 'pending'), code: totpCode(secret, 1) });
    expect(a.html).toContain('name="scope"');
  });

  it('asks nothing more of other users', async () => {
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    expect((await submit(server, a, 'login', { username: 'alice', password: PASSWORD })).html).toContain(
      'name="scope"',
    );
  });
});

describe('MCP_OAUTH_SECOND_FACTOR=everyone', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_SECOND_FACTOR: 'everyone' });
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  it('asks every user for more than a password, and lets them in to the account page to set it up', async () => {
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const refused = await submit(server, a, 'login', { username: 'alice', password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('/account/security');
    const web = await signedInClient(server, 'alice');
    const page = await (await web.get('/account/security')).text();
    expect(page).toContain('id="factor-required"');
    const { secret } = await enrolTotp(web);
    const again = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const step = await submit(server, again, 'login', { username: 'alice', password: PASSWORD });
    await submit(server, again, 'code', { pending: field(step.html, 'pending'), code: totpCode(secret, 1) });
    expect((await consentAndRedeem(server, client, again, RESOURCE)).acr).toBe(ACR.mfa);
  });
});
