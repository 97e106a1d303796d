// One chain per grant across server processes (docs/pitfalls.md#refresh-token-reuse-and-racing-agents):
// agents whose processes race present one refresh token to two server nodes on one database; every
// presentation inside the grace window gets the same successor, the chain goes on from it, and a
// replay of the old token after the window revokes the grant. Admins see the family in the console.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpired } from '../../src/storage/purge.js';
import { PASSWORD, RESOURCE, RESOURCE_NAME, WebClient } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';
import { type SecondNode, startSecondNode } from './support.js';

async function refreshAt(base: string, client: RegisteredClient, token: string) {
  const res = await tokenRequest(base, {
    grant_type: 'refresh_token',
    refresh_token: token,
    client_id: client.client_id,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('refresh across two server processes', () => {
  let a: TestServer;
  let b: SecondNode;
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;

  beforeAll(async () => {
    a = await startTestServer({}, { now });
    await a.addUser('alice', PASSWORD);
    await a.addUser('root', PASSWORD, { admin: true });
    await a.addResource(RESOURCE, RESOURCE_NAME);
    b = await startSecondNode(a, now);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  async function connect() {
    const client = await register(a.url, PUBLIC_CLIENT);
    const got = await authorize(a.url, { client, username: 'alice', password: PASSWORD, resource: RESOURCE });
    const token = await redeem(a.url, client, got, { resource: RESOURCE });
    expect(token.status).toBe(200);
    return {
      client,
      refresh: token.body.refresh_token as string,
      grantId: decodeJwt(token.body.access_token as string).grant_id as string,
    };
  }

  it('racing presentations on both nodes end with one working chain', async () => {
    const c = await connect();
    const racers = await Promise.all(
      [a.url, b.url, a.url, b.url, a.url, b.url].map((base) => refreshAt(base, c.client, c.refresh)),
    );
    expect(racers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const successors = new Set(racers.map((r) => r.body.refresh_token));
    expect(successors.size).toBe(1);
    const [successor] = [...successors] as [string];
    // Exactly one live refresh token for the grant: one chain, not six.
    const live = (await a.sql.get(
      "SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'RefreshToken' AND grant_id = ? AND consumed_at IS NULL",
      [c.grantId],
    )) as { n: number };
    expect(live.n).toBe(1);
    // The chain goes on from the one successor, on either node.
    const next = await refreshAt(b.url, c.client, successor);
    expect(next.status).toBe(200);
    expect((await refreshAt(a.url, c.client, next.body.refresh_token ?? '')).status).toBe(200);
    expect((await a.app.stores.grantRecords.find(c.grantId))?.revokedAt ?? null).toBeNull();
  });

  it('a replay of the rotated token after the window revokes the grant, whichever node sees it', async () => {
    const c = await connect();
    const first = await refreshAt(a.url, c.client, c.refresh);
    expect(first.status).toBe(200);
    offsetMs += 12_000;
    const replay = await refreshAt(b.url, c.client, c.refresh);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refreshAt(a.url, c.client, first.body.refresh_token ?? '')).status).toBe(400);
    expect((await a.app.stores.grantRecords.find(c.grantId))?.revokedBy).toBe('system:code or refresh token reused');
    // The revoked grant's family (and the token ids in it) goes at the next purge.
    expect(await a.app.stores.refreshFamily.family(c.grantId)).toHaveLength(1);
    await purgeExpired(a.sql, Math.floor(now() / 1000));
    expect(await a.app.stores.refreshFamily.family(c.grantId)).toEqual([]);
  });

  it('a token whose successor was already rotated on is not saved by the window: the grant is revoked', async () => {
    const c = await connect();
    const first = await refreshAt(a.url, c.client, c.refresh);
    const second = await refreshAt(b.url, c.client, first.body.refresh_token ?? '');
    expect(second.status).toBe(200);
    // Inside the window of the first rotation, but its successor is spent: a chain cannot fork.
    const stale = await refreshAt(a.url, c.client, c.refresh);
    expect(stale.status).toBe(400);
    expect((await a.app.stores.grantRecords.find(c.grantId))?.revokedAt).not.toBeNull();
  });

  it("the console shows the grant's token family: when, from where, how many presentations", async () => {
    const c = await connect();
    await Promise.all([refreshAt(a.url, c.client, c.refresh), refreshAt(b.url, c.client, c.refresh)]);
    await refreshAt(a.url, c.client, c.refresh);
    const admin = new WebClient(a.url);
    expect((await admin.signIn('root')).status).toBe(303);
    const page = await admin.page(`/admin/grants/${encodeURIComponent(c.grantId)}`);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain('data-rotation="1"');
    expect(page.html).toContain('data-presentations="3"');
    expect(page.html).toContain('127.0.0.1');
    // Never a token value.
    const ids = await a.sql.all("SELECT id FROM oidc_models WHERE model = 'RefreshToken' AND grant_id = ?", [
      c.grantId,
    ]);
    for (const { id } of ids as { id: string }[]) expect(page.html).not.toContain(id);
    expect(page.html).not.toContain(c.refresh);
    // The grants list links to it.
    expect((await admin.page('/admin')).html).toContain(`/admin/grants/${encodeURIComponent(c.grantId)}`);
    expect((await admin.page('/admin/grants/no-such-grant')).res.status).toBe(404);
  });
});
