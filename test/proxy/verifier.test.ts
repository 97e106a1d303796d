// The verifier and its cache, directly: a token is verified once and then served from the cache
// until exp + tolerance (judged by the injected clock), per audience, with the oldest entry evicted
// at the size bound; refusals are never cached.
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, InvalidTokenError, type KeySet } from '../../src/proxy/verifier.js';

const ISSUER = 'https://as.example';
const AUD = 'https://mcp.example/mcp';
const T0 = 1_800_000_000;

describe('token verifier cache', () => {
  let sign: (claims: JWTPayload) => Promise<string>;
  let keys: KeySet & { lookups: number };

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const local = createLocalJWKSet({ keys: [jwk] });
    keys = {
      lookups: 0,
      getKey: (header, token) => {
        keys.lookups++;
        return local(header, token);
      },
      refresh: async () => true,
      loaded: () => true,
      stop: () => {},
    };
    sign = (claims) =>
      new SignJWT({ sub: 'alice', client_id: 'agent', scope: 'mcp:read', iat: T0, exp: T0 + 60, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUD)
        .sign(privateKey);
  });

  const verifier = (clock: { t: number }, cacheSize?: number) =>
    createVerifier({
      issuer: ISSUER,
      keys,
      algorithms: ['ES256'],
      clockToleranceSeconds: 5,
      now: () => clock.t * 1000,
      ...(cacheSize === undefined ? {} : { cacheSize }),
    });

  it('checks the signature once per token, then answers from the cache until exp + tolerance', async () => {
    const clock = { t: T0 };
    const v = verifier(clock);
    const token = await sign({});
    const cases: [at: number, ok: boolean, lookups: number][] = [
      [T0, true, 1], // verified: one key lookup
      [T0 + 30, true, 0], // cached
      [T0 + 64, true, 0], // past exp, within the 5 s tolerance
      [T0 + 65, false, 0], // cached entry expired: refused and dropped
      [T0 + 10, true, 1], // (clock set back) verified afresh: it was dropped
    ];
    for (const [at, ok, lookups] of cases) {
      clock.t = at;
      const before = keys.lookups;
      const result = v.verify(token, AUD);
      if (ok) await expect(result, `at ${at - T0}`).resolves.toMatchObject({ sub: 'alice', exp: T0 + 60 });
      else await expect(result, `at ${at - T0}`).rejects.toBeInstanceOf(InvalidTokenError);
      expect(keys.lookups - before, `lookups at ${at - T0}`).toBe(lookups);
    }
  });

  it('caches per audience: a token cached for one route is still refused for another', async () => {
    const clock = { t: T0 };
    const v = verifier(clock);
    const token = await sign({});
    await v.verify(token, AUD);
    await expect(v.verify(token, 'https://other.example/mcp')).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('never caches a refusal', async () => {
    const clock = { t: T0 + 120 };
    const v = verifier(clock);
    const expired = await sign({});
    for (let i = 0; i < 2; i++) {
      const before = keys.lookups;
      await expect(v.verify(expired, AUD)).rejects.toBeInstanceOf(InvalidTokenError);
      expect(keys.lookups - before).toBe(1);
    }
  });

  it('evicts the oldest entry at the size bound', async () => {
    const clock = { t: T0 };
    const v = verifier(clock, 2);
    const [a, b, c] = await Promise.all([sign({ jti: 'a' }), sign({ jti: 'b' }), sign({ jti: 'c' })]);
    for (const t of [a, b, c]) await v.verify(t as string, AUD);
    const lookupsFor = async (t: string) => {
      const before = keys.lookups;
      await v.verify(t, AUD);
      return keys.lookups - before;
    };
    expect(await lookupsFor(c as string)).toBe(0);
    expect(await lookupsFor(b as string)).toBe(0);
    expect(await lookupsFor(a as string)).toBe(1); // evicted, verified again
  });

  it('refuses claims a resource server cannot use, even when signed', async () => {
    const clock = { t: T0 };
    const v = verifier(clock);
    const cases: [string, JWTPayload][] = [
      ['no sub', { sub: undefined }],
      ['empty client_id', { client_id: '' }],
      ['scope not a string', { scope: ['mcp:read'] as unknown as string }],
      ['scope with a double space', { scope: 'mcp:read  mcp:write' }],
      ['empty grant_id', { grant_id: '' }],
    ];
    for (const [name, claims] of cases) {
      await expect(v.verify(await sign(claims), AUD), name).rejects.toBeInstanceOf(InvalidTokenError);
    }
  });
});
