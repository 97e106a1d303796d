// The agent side of DPoP for the tests: oauth4webapi (a standard client library that speaks
// RFC 9449) for the token requests and well-formed resource requests, and hand-made proofs (jose)
// for the refusals, each wrong in exactly one way.
import { createHash, randomUUID } from 'node:crypto';
import { exportJWK, type GenerateKeyPairResult, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import type { TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';

export const PASSWORD = 'correct horse battery staple';

export type KeyPair = GenerateKeyPairResult;

export async function newKey(alg = 'ES256'): Promise<KeyPair> {
  return generateKeyPair(alg, { extractable: true });
}

export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface ProofClaims {
  htm: string;
  htu: string;
  ath?: string | undefined;
  iat?: number;
  jti?: string;
  nonce?: string;
}

/** A DPoP proof (RFC 9449 §4.2) signed with `key`, with exactly the claims given. */
export async function proof(key: KeyPair, claims: ProofClaims, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = await exportJWK(key.publicKey);
  const payload: Record<string, unknown> = {
    htm: claims.htm,
    htu: claims.htu,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    jti: claims.jti ?? randomUUID(),
  };
  if (claims.ath !== undefined) payload.ath = claims.ath;
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header })
    .sign(key.privateKey);
}

export interface DpopAgent {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  registered: RegisteredClient;
  key: KeyPair;
  dpop: oauth.DPoPHandle;
  tokens: oauth.TokenEndpointResponse;
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { ...insecure, algorithm: 'oauth2' }));
}

/** Runs a token request, retrying once with the server's nonce when it asks for one (RFC 9449 §8). */
export async function withNonceRetry<T>(run: () => Promise<T>): Promise<{ value: T; nonceRetries: number }> {
  try {
    return { value: await run(), nonceRetries: 0 };
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return { value: await run(), nonceRetries: 1 };
  }
}

/**
 * An agent that registers, has the user sign in and allow, and redeems the code with a DPoP proof:
 * the code flow of an MCP agent, with a DPoP-bound token at the end.
 */
export async function dpopAgent(
  server: TestServer,
  resource: string,
  opts: { username: string; scope?: string; key?: KeyPair },
): Promise<DpopAgent & { nonceRetries: number }> {
  const as = await discover(server.url);
  const registered = await register(server.url, PUBLIC_CLIENT);
  const client: oauth.Client = { client_id: registered.client_id };
  const key = opts.key ?? (await newKey());
  const dpop = oauth.DPoP(client, key);
  const got = await authorize(server.url, {
    client: registered,
    username: opts.username,
    password: PASSWORD,
    resource,
    scope: opts.scope ?? 'mcp:read mcp:write',
  });
  const params = oauth.validateAuthResponse(as, client, got.location, got.state);
  const redirectUri = `${got.location.origin}${got.location.pathname}`;
  const { value: tokens, nonceRetries } = await withNonceRetry(async () =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, got.verifier, {
        ...insecure,
        DPoP: dpop,
        additionalParameters: { resource },
      }),
    ),
  );
  return { as, client, registered, key, dpop, tokens, nonceRetries };
}

/** The refresh grant with the agent's DPoP handle, another one, or (null) no proof. */
export async function refresh(agent: DpopAgent, dpop: oauth.DPoPHandle | null = agent.dpop) {
  const refreshToken = agent.tokens.refresh_token;
  if (!refreshToken) throw new Error('no refresh token');
  return oauth.processRefreshTokenResponse(
    agent.as,
    agent.client,
    await oauth.refreshTokenGrantRequest(agent.as, agent.client, oauth.None(), refreshToken, {
      ...insecure,
      ...(dpop ? { DPoP: dpop } : {}),
    }),
  );
}
