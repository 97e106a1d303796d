import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { startTestServer, type TestServer } from '../support/app.js';
import {
  authorize,
  CookieBrowser,
  PUBLIC_CLIENT,
  type RegisteredClient,
  redeem,
  register,
  tokenRequest,
} from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';

describe('revoking grants, agents and users', () => {
  let server: TestServer;
  let aliceId: string;
  let bobId: string;
  beforeAll(async () => {
    // Immediate reuse must be refused here: no grace window (test/hardening/refresh_grace.test.ts).
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    aliceId = (await server.addUser('alice', PASSWORD)).id;
    bobId = (await server.addUser('bob', PASSWORD)).id;
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  async function connect(username: string, client?: RegisteredClient) {
    const c = client ?? (await register(server.url, PUBLIC_CLIENT));
    const got = await authorize(server.url, { client: c, username, password: PASSWORD, resource: RESOURCE });
    const { body } = await redeem(server.url, c, got);
    const grantId = JSON.parse(Buffer.from((body.access_token as string).split('.')[1] ?? '', 'base64url').toString())
      .grant_id as string;
    return { client: c, grantId, refresh: body.refresh_token as string };
  }
  const refresh = (client: RegisteredClient, token: string) =>
    tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id });

  it('records each grant with its scopes and last use', async () => {
    const { grantId, client } = await connect('alice');
    const record = await server.app.stores.grantRecords.find(grantId);
    expect(record).toMatchObject({
      accountId: aliceId,
      clientId: client.client_id,
      resource: RESOURCE,
      scopes: ['mcp:read'],
      obtainedVia: 'consent',
      revokedAt: null,
    });
    expect(record?.lastUsedAt).toBeGreaterThan(0);
    expect(await server.app.stores.clientState.find(client.client_id)).toMatchObject({ registeredVia: 'dynamic' });
    expect((await server.app.stores.clientState.find(client.client_id))?.lastUsedAt).toBeGreaterThan(0);
  });

  it('revoking one grant kills its refresh token at once, leaves other grants alone, writes a feed entry, and asks consent again', async () => {
    const a = await connect('alice');
    const b = await connect('bob', a.client);
    const { revocations, grantRecords } = server.app.stores;
    const before = await revocations.latestSeq();
    expect(await revocations.revokeGrant(a.grantId, `admin:${bobId}`, epochSeconds())).toBe(true);
    expect((await refresh(a.client, a.refresh)).status).toBe(400);
    expect((await refresh(b.client, b.refresh)).status).toBe(200);
    expect(await grantRecords.find(a.grantId)).toMatchObject({ revokedBy: `admin:${bobId}` });
    const feed = await revocations.feedAfter(before, epochSeconds());
    expect(feed).toEqual([expect.objectContaining({ kind: 'grant', subject: a.grantId })]);
    expect(feed[0]?.expiresAt).toBe((feed[0]?.before ?? 0) + server.config.accessTokenTtl + 60);
    // Second revoke: nothing left to revoke, no new entry.
    expect(await revocations.revokeGrant(a.grantId, 'cli', epochSeconds())).toBe(false);
    expect(await revocations.latestSeq()).toBe(feed[0]?.seq);
  });

  it('after a revoke, the next authorization of a web agent asks for consent again (and not before)', async () => {
    // Native (loopback) agents are asked on every authorization; a web agent is not, once granted.
    const web = await register(server.url, { ...PUBLIC_CLIENT, redirect_uris: ['https://agent.example.com/callback'] });
    const browser = new CookieBrowser();
    const opts = { client: web, username: 'alice', password: PASSWORD, resource: RESOURCE, browser };
    const granted = await authorize(server.url, opts);
    expect(granted.consentHtml).toContain('Read data and list tools');
    const { body } = await redeem(server.url, web, granted);
    const grantId = JSON.parse(Buffer.from((body.access_token as string).split('.')[1] ?? '', 'base64url').toString())
      .grant_id as string;
    const silent = await authorize(server.url, opts);
    expect(silent.consentHtml).toBeUndefined();
    expect(silent.code).not.toBeNull();
    expect(await server.app.stores.revocations.revokeGrant(grantId, 'cli', epochSeconds())).toBe(true);
    const after = await authorize(server.url, opts);
    expect(after.consentHtml).toContain('Read data and list tools');
    expect(after.code).not.toBeNull();
  });

  it('a disabled agent gets no token and no authorization; enabling it lets it start over', async () => {
    const a = await connect('alice');
    const { revocations } = server.app.stores;
    const ids = await revocations.disableClient(a.client.client_id, 'cli', epochSeconds());
    expect(ids).toContain(a.grantId);
    const res = await refresh(a.client, a.refresh);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    const blocked = await fetch(
      `${server.url}/authorize?${new URLSearchParams({ client_id: a.client.client_id, response_type: 'code' })}`,
      { redirect: 'manual' },
    );
    expect(blocked.status).toBe(400);
    expect(blocked.headers.get('location')).toBeNull();
    expect((await revocations.feedAfter(0, epochSeconds())).at(-1)).toMatchObject({
      kind: 'client',
      subject: a.client.client_id,
    });
    expect(await revocations.enableClient(a.client.client_id)).toBe(true);
    expect((await connect('alice', a.client)).grantId).toBeTruthy();
  });

  it('disabling a user revokes all their grants and stops their refresh tokens', async () => {
    const a = await connect('bob');
    const { revocations, users } = server.app.stores;
    await revocations.disableUser(bobId, 'cli', epochSeconds());
    expect((await users.findById(bobId))?.disabled).toBe(true);
    expect((await refresh(a.client, a.refresh)).status).toBe(400);
    expect((await revocations.feedAfter(0, epochSeconds())).at(-1)).toMatchObject({ kind: 'user', subject: bobId });
    expect(await server.app.stores.grantRecords.list({ accountId: bobId, state: 'active' })).toEqual([]);
  });

  it('a refresh-token replay revokes the grant and reaches the feed as a system revocation', async () => {
    const a = await connect('alice');
    expect((await refresh(a.client, a.refresh)).status).toBe(200);
    expect((await refresh(a.client, a.refresh)).status).toBe(400);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedBy).toBe(
      'system:code or refresh token reused',
    );
    expect((await server.app.stores.revocations.feedAfter(0, epochSeconds())).at(-1)).toMatchObject({
      kind: 'grant',
      subject: a.grantId,
    });
  });
});
