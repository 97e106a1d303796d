import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { keyStatuses, rotateSigningKey } from '../../src/provider/keys.js';
import { createKeyRepository } from '../../src/storage/keys.js';
import { purgeExpired } from '../../src/storage/purge.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register } from '../support/oauth.js';
import { tempTestStorage } from '../support/storage.js';

const RESOURCE = 'https://mcp.example.com/mcp';

describe('signing key rotation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'correct horse battery');
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  async function accessToken(): Promise<string> {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: 'correct horse battery',
      resource: RESOURCE,
    });
    return (await redeem(server.url, client, got)).body.access_token as string;
  }
  const publishedKids = async () =>
    ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string; d?: string }[] }).keys;

  it('publishes a new key first, signs with it only after the delay, and keeps the old key for its tokens', async () => {
    const keys = createKeyRepository(server.sql);
    const before = await accessToken();
    const oldKid = decodeProtectedHeader(before).kid;

    const now = epochSeconds();
    const pending = await rotateSigningKey(keys, { delay: 600, maxTokenLifetime: 600 }, now);
    expect(await server.app.reloadKeysIfChanged()).toBe(true);
    const published = await publishedKids();
    expect(published.map((k) => k.kid).sort()).toEqual([oldKid, pending.kid].sort());
    expect(published.every((k) => k.d === undefined)).toBe(true); // never a private part
    expect(decodeProtectedHeader(await accessToken()).kid).toBe(oldKid);

    // Rotate again with no delay: the newest key signs at once; every older key is verify-only.
    const active = await rotateSigningKey(keys, { delay: 0, maxTokenLifetime: 600 }, now);
    await server.app.reloadKeysIfChanged();
    const after = await accessToken();
    expect(decodeProtectedHeader(after).kid).toBe(active.kid);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    await expect(jwtVerify(before, jwks, { issuer: server.url, audience: RESOURCE })).resolves.toBeDefined();
    await expect(jwtVerify(after, jwks, { issuer: server.url, audience: RESOURCE })).resolves.toBeDefined();

    const states = await keyStatuses(keys, now);
    expect(states.find((s) => s.kid === active.kid)?.state).toBe('signing');
    expect(states.find((s) => s.kid === oldKid)?.state).toBe('retired');
    // Once the last token an old key signed has expired, purging drops it from the JWKS.
    expect((await purgeExpired(server.sql, now + 601)).signingKeys).toBe(2);
    await server.app.reloadKeysIfChanged();
    expect((await publishedKids()).map((k) => k.kid)).toEqual([active.kid]);
  });

  it('of keys activating in the same second, takes the one added last, on either engine', async () => {
    // PostgreSQL has no rowid: before keys were numbered (migrations/0093), the tie went by key id,
    // at random. Ten rounds of three keys in one second: a coin toss would fail at once.
    const storage = await tempTestStorage();
    try {
      const keys = createKeyRepository(storage.sql);
      const now = epochSeconds();
      for (let round = 0; round < 10; round++) {
        const added: string[] = [];
        for (let i = 0; i < 3; i++)
          added.push((await rotateSigningKey(keys, { delay: 0, maxTokenLifetime: 600 }, now)).kid);
        expect((await keys.live(now))[0]?.kid).toBe(added.at(-1));
        const states = await keyStatuses(keys, now);
        expect(states.filter((s) => s.state === 'signing').map((s) => s.kid)).toEqual([added.at(-1)]);
      }
    } finally {
      await storage.close();
    }
  });
});
