// Single use when requests race: presentations of one authorization code (or, without a grace
// window, one refresh token) arriving together are decided by the adapter's conditional consume,
// not by which request read the row first (src/provider/consume_race.ts). One wins; the others are
// replays: invalid_grant, and the grant is revoked, on SQLite as on a PostgreSQL pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';

describe('racing presentations of a single-use value', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  it('one authorization code redeemed four times at once: one token, three invalid_grant, the grant revoked', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: RESOURCE });
    const results = await Promise.all(
      Array.from({ length: 4 }, () => redeem(server.url, client, got, { resource: RESOURCE })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
    for (const r of results.filter((x) => x.status === 400)) expect(r.body.error).toBe('invalid_grant');
    const winner = results.find((r) => r.status === 200);
    const refreshed = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: String(winner?.body.refresh_token),
      client_id: client.client_id,
    });
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('one refresh token presented four times at once without a grace window: one rotation, the grant revoked', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: RESOURCE });
    const token = await redeem(server.url, client, got, { resource: RESOURCE });
    expect(token.status).toBe(200);
    const fields = {
      grant_type: 'refresh_token',
      refresh_token: String(token.body.refresh_token),
      client_id: client.client_id,
    };
    const results = await Promise.all(Array.from({ length: 4 }, () => tokenRequest(server.url, fields)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
    expect(statuses.filter((s) => s === 400).length).toBeGreaterThanOrEqual(3);
    const bodies = (await Promise.all(results.map((r) => r.json()))) as { refresh_token?: string; error?: string }[];
    const rotated = bodies.find((b) => b.refresh_token !== undefined);
    if (rotated) {
      const next = await tokenRequest(server.url, { ...fields, refresh_token: String(rotated.refresh_token) });
      expect(next.status).toBe(400);
    }
  });
});
