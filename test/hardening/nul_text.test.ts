// A NUL character in a request value: PostgreSQL cannot store or compare one (the statement fails),
// SQLite can. Both engines refuse it before the database sees it (SqlTextError in
// src/storage/engine.ts), so the answer is the same client error on either, inside oidc-provider's
// routes as on ours, and never a 500; a NUL in the path names nothing and is a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';

describe('a NUL character in a request', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await startTestServer();
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  it.each([
    ['a refresh token', { grant_type: 'refresh_token', refresh_token: 'abc\u0000def' }],
    ['an authorization code', { grant_type: 'authorization_code', code: 'abc\u0000', redirect_uri: 'x' }],
  ])('in %s at the token endpoint is a 400 invalid_request', async (_what, fields) => {
    const res = await tokenRequest(server.url, { ...fields, client_id: client.client_id });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('in the client id at the token endpoint is refused with a 4xx, not a 500', async () => {
    const res = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: 'a\u0000b',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('in the path is a 404', async () => {
    const res = await fetch(`${server.url}/account/%00`);
    expect(res.status).toBe(404);
  });
});
