// Refresh-token reuse grace window (docs/pitfalls.md#refresh-token-reuse-and-racing-agents): within
// MCP_OAUTH_REFRESH_REUSE_GRACE the client that owns a just-rotated refresh token may present it
// again and gets the same successor (one chain); after it, reuse is theft and the grant is revoked through the revocation
// service (feed + grant record + audit). The token store's clock is injected, so both sides of the
// window are tested without sleeping.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { withinGrace } from '../../src/provider/refresh_grace.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';

interface Connected {
  client: RegisteredClient;
  refresh: string;
  grantId: string;
}

async function connect(server: TestServer, client?: RegisteredClient): Promise<Connected> {
  const c = client ?? (await register(server.url, PUBLIC_CLIENT));
  const got = await authorize(server.url, { client: c, username: 'alice', password: PASSWORD, resource: RESOURCE });
  const token = await redeem(server.url, c, got, { resource: RESOURCE });
  expect(token.status).toBe(200);
  const grantId = decodeJwt(token.body.access_token as string).grant_id as string;
  return { client: c, refresh: token.body.refresh_token as string, grantId };
}

async function refresh(server: TestServer, client: RegisteredClient, refreshToken: string) {
  const res = await tokenRequest(server.url, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client.client_id,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function auditEvents(server: TestServer, event: string, grantId: string): Promise<unknown[]> {
  return await server.sql.all('SELECT * FROM audit_events WHERE event = ? AND grant_id = ?', [event, grantId]);
}

describe('the grace window boundary', () => {
  it('lasts the configured whole seconds after rotation, and 0 turns it off', () => {
    expect(withinGrace(100, 100, 10)).toBe(true);
    expect(withinGrace(100, 110, 10)).toBe(true);
    expect(withinGrace(100, 111, 10)).toBe(false);
    expect(withinGrace(100, 99, 10)).toBe(false);
    expect(withinGrace(100, 100, 0)).toBe(false);
  });
});

describe('refresh-token reuse with the default 10 s grace window', () => {
  let server: TestServer;
  let offsetMs = 0;
  beforeAll(async () => {
    server = await startTestServer({}, { now: () => Date.now() + offsetMs });
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  it('within the window, the same client presenting the rotated token again gets a valid token response', async () => {
    const a = await connect(server);
    const first = await refresh(server, a.client, a.refresh);
    expect(first.status).toBe(200);
    offsetMs += 5_000;
    const again = await refresh(server, a.client, a.refresh);
    expect(again.status).toBe(200);
    expect(again.body.token_type).toBe('Bearer');
    expect(decodeJwt(again.body.access_token ?? '').grant_id).toBe(a.grantId);
    // The same successor: one chain, whichever process presented the token.
    expect(again.body.refresh_token).toBe(first.body.refresh_token);
    expect(again.body.access_token).not.toBe(first.body.access_token);
    expect(await auditEvents(server, 'refresh_token.reused_in_grace', a.grantId)).toHaveLength(1);
    expect((await refresh(server, a.client, first.body.refresh_token ?? '')).status).toBe(200);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedAt ?? null).toBeNull();
    expect(await auditEvents(server, 'refresh_token.reuse_detected', a.grantId)).toHaveLength(0);
  });

  it('after the window, reuse is theft: the grant is revoked, published on the feed and audited', async () => {
    const a = await connect(server);
    const first = await refresh(server, a.client, a.refresh);
    expect(first.status).toBe(200);
    offsetMs += 12_000;
    const reuse = await refresh(server, a.client, a.refresh);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    expect(reuse.body.refresh_token).toBeUndefined();
    // The whole grant is dead, including the token the legitimate process holds.
    expect((await refresh(server, a.client, first.body.refresh_token ?? '')).status).toBe(400);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedBy).toBe(
      'system:code or refresh token reused',
    );
    expect((await server.app.stores.revocations.feedAfter(0, epochSeconds())).at(-1)).toMatchObject({
      kind: 'grant',
      subject: a.grantId,
    });
    expect(await auditEvents(server, 'refresh_token.reuse_detected', a.grantId)).toHaveLength(1);
    expect(await auditEvents(server, 'grant.revoked', a.grantId)).toHaveLength(1);
    expect(await auditEvents(server, 'refresh_token.reused_in_grace', a.grantId)).toHaveLength(0);
  });

  it('another client presenting the rotated token within the window gets invalid_grant and changes nothing', async () => {
    const a = await connect(server);
    const other = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Other Agent' });
    const first = await refresh(server, a.client, a.refresh);
    expect(first.status).toBe(200);
    const stolen = await refresh(server, other, a.refresh);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    expect(await auditEvents(server, 'refresh_token.reused_in_grace', a.grantId)).toHaveLength(0);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedAt ?? null).toBeNull();
    expect((await refresh(server, a.client, first.body.refresh_token ?? '')).status).toBe(200);
  });

  it('several processes refreshing in parallel with the same token all succeed, on one chain', async () => {
    const a = await connect(server);
    const results = await Promise.all(Array.from({ length: 6 }, () => refresh(server, a.client, a.refresh)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const issued = results.map((r) => r.body.refresh_token ?? '');
    expect(new Set(issued).size).toBe(1);
    for (const r of results) expect(decodeJwt(r.body.access_token ?? '').grant_id).toBe(a.grantId);
    // Every process keeps working with the token it got (the same one, so again inside the window).
    const next = await Promise.all(issued.map((t) => refresh(server, a.client, t)));
    expect(next.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(next.map((r) => r.body.refresh_token)).size).toBe(1);
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedAt ?? null).toBeNull();
  });

  it('a refresh token that was never issued is refused without touching any grant', async () => {
    const a = await connect(server);
    const forged = await refresh(server, a.client, `${a.refresh.slice(0, -2)}xx`);
    expect(forged.status).toBe(400);
    expect(forged.body.error).toBe('invalid_grant');
    expect((await refresh(server, a.client, a.refresh)).status).toBe(200);
  });
});

describe('refresh-token reuse with the grace window off (MCP_OAUTH_REFRESH_REUSE_GRACE=0)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  it('the first reuse revokes the grant', async () => {
    const a = await connect(server);
    expect((await refresh(server, a.client, a.refresh)).status).toBe(200);
    const reuse = await refresh(server, a.client, a.refresh);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    expect((await server.app.stores.grantRecords.find(a.grantId))?.revokedBy).toBe(
      'system:code or refresh token reused',
    );
  });
});
