// Signing-key rotation while tokens are issued and verified. Resource servers use jose's
// createRemoteJWKSet with its defaults (key set cached 10 minutes, refetched on an unknown kid at
// most once per 30 s cooldown); some start just before the new key is published, the moment that
// used to fail. The server checks its key set every 30 s, as its timer does (src/app/server.ts).
// Time is simulated (Date only, so real HTTP still runs): two minutes in one-second steps, a token
// issued every step; every token must verify at every resource server that is running.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { rotateSigningKey } from '../../src/provider/keys.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const KEY_CHECK_EVERY = 30;
const CLOCK_SKEW = 300; // as `mcp-oauth keys rotate` retires old keys

let server: TestServer;
/** Simulated time moves forward only, a day between cases, so each starts with one settled key. */
let clock = epochSeconds() + 86_400;
let client: RegisteredClient;
let refresh: string;

beforeAll(async () => {
  server = await startTestServer();
  await server.addUser('alice', 'correct horse battery');
  await server.addResource(RESOURCE, 'Orders DB');
  client = await register(server.url, PUBLIC_CLIENT);
  const got = await authorize(server.url, {
    client,
    username: 'alice',
    password: 'correct horse battery',
    resource: RESOURCE,
  });
  refresh = String((await redeem(server.url, client, got)).body.refresh_token);
});
afterAll(() => server.close());
afterEach(() => {
  vi.useRealTimers();
});

async function issue(): Promise<string> {
  const res = await tokenRequest(server.url, {
    grant_type: 'refresh_token',
    refresh_token: refresh,
    client_id: client.client_id,
  });
  const body = (await res.json()) as Record<string, string>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  refresh = body.refresh_token ?? '';
  return body.access_token ?? '';
}

describe('signing-key rotation under load', () => {
  it.each([
    // A delay shorter than the server's key check: the new key must still be published a full
    // check before it signs, or a resource server that fetched the set just before cannot refetch.
    [20, 5],
    [20, 29],
    [45, 14],
    [0.5 * 60 * 60, 3], // the operator's usual half-hour (only its start is simulated)
  ])('delay %is, rotated %is after a key check: every token verifies everywhere', async (delay, offset) => {
    clock += 86_400;
    let now = clock - (clock % KEY_CHECK_EVERY); // a key check just ran
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now * 1000);
    await server.app.reloadKeysIfChanged();

    const verifiers: { start: number; jwks: ReturnType<typeof createRemoteJWKSet> }[] = [];
    const kids = new Set<string>();
    const end = now + 120;
    let rotated = false;
    for (; now <= end; now += 1) {
      vi.setSystemTime(now * 1000);
      if (now % KEY_CHECK_EVERY === 0) await server.app.reloadKeysIfChanged();
      if (!rotated && now % KEY_CHECK_EVERY === offset) {
        // What `mcp-oauth keys rotate --delay N` does, from another process.
        await rotateSigningKey(server.app.stores.keys, {
          delay,
          maxTokenLifetime: server.config.accessTokenTtl + CLOCK_SKEW,
        });
        rotated = true;
      }
      // A resource server starts every three seconds, and fetches the key set on its first token.
      if (now % 3 === 0) verifiers.push({ start: now, jwks: createRemoteJWKSet(new URL(`${server.url}/jwks`)) });
      const token = await issue();
      kids.add(String(decodeProtectedHeader(token).kid));
      for (const v of verifiers) {
        await expect(
          jwtVerify(token, v.jwks, { issuer: server.url, audience: RESOURCE, typ: 'at+jwt', algorithms: ['ES256'] }),
          `token issued at +${now % 1000}s at a resource server started at +${v.start % 1000}s`,
        ).resolves.toBeDefined();
      }
    }
    // The rotation really happened within the simulated time (except for the long delay).
    expect(kids.size).toBe(delay < 60 ? 2 : 1);
  });
});
