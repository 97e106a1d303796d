// DPoP through nginx's auth_request: nginx passes the agent's headers (Authorization, DPoP) on its
// subrequest, the original request line in X-Original-URI and the method in X-Original-Method
// (examples/nginx/mcp-auth-request.conf). The proof is checked against that method and the route's
// public URL; without the method the proxy cannot check `htm` and refuses. Also the proof cache's
// bound and expiry, with an injected clock.
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopVerifier, InvalidProofError, ProofCacheFullError } from '../../src/proxy/dpop.js';
import { type Chain, startChain } from '../proxy/helpers.js';
import { ath, type DpopAgent, dpopAgent, newKey, PASSWORD, proof } from './support.js';

const PUBLIC = 'https://mcp.example.com/mcp';

describe('DPoP at the auth_request endpoint', () => {
  let chain: Chain;
  let agent: DpopAgent;
  let token: string;

  beforeAll(async () => {
    chain = await startChain({ resource: PUBLIC, config: { authRequestPath: '/_auth' } });
    await chain.as.addUser('alice', PASSWORD);
    agent = await dpopAgent(chain.as, PUBLIC, { username: 'alice' });
    token = agent.tokens.access_token;
  });
  afterAll(async () => chain?.close());

  const ask = (headers: Record<string, string>) =>
    fetch(`${chain.proxy.url}/_auth`, { headers: { 'x-original-uri': '/mcp', ...headers } });

  it('allows a request whose proof matches the original method and the public URL, once', async () => {
    const dpop = await proof(agent.key, { htm: 'POST', htu: PUBLIC, ath: ath(token) });
    const ok = await ask({ authorization: `DPoP ${token}`, dpop, 'x-original-method': 'POST' });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('x-mcp-subject')).toBeTruthy();
    const replay = await ask({ authorization: `DPoP ${token}`, dpop, 'x-original-method': 'POST' });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
  });

  it('refuses when the method is not passed, or is not the one the proof names', async () => {
    for (const method of [undefined, 'GET']) {
      const dpop = await proof(agent.key, { htm: 'POST', htu: PUBLIC, ath: ath(token) });
      const res = await ask({
        authorization: `DPoP ${token}`,
        dpop,
        ...(method ? { 'x-original-method': method } : {}),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
    }
  });

  it('refuses the bound token as a bearer token', async () => {
    const res = await ask({ authorization: `Bearer ${token}`, 'x-original-method': 'POST' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});

describe('the proof cache', () => {
  it('remembers each proof for its window, refuses new proofs when full, and forgets old ones', async () => {
    let now = Date.UTC(2026, 0, 1);
    const verifier = createDpopVerifier({ clockToleranceSeconds: 5, windowSeconds: 60, maxProofs: 2, now: () => now });
    const key = await newKey();
    const jkt = await calculateJwkThumbprint(await exportJWK(key.publicKey));
    const check = async (jti: string) => ({
      proof: await proof(key, { htm: 'POST', htu: PUBLIC, ath: ath('t'), iat: Math.floor(now / 1000), jti }),
      method: 'POST',
      url: PUBLIC,
      token: 't',
      jkt,
    });
    await verifier.verify(await check('a'));
    await verifier.verify(await check('b'));
    await expect(verifier.verify(await check('a'))).rejects.toBeInstanceOf(InvalidProofError);
    await expect(verifier.verify(await check('c'))).rejects.toBeInstanceOf(ProofCacheFullError);
    // Past the window and both tolerances, the old proofs are forgotten (their iat is refused anyway).
    now += (60 + 2 * 5 + 1) * 1000;
    await verifier.verify(await check('c'));
    await verifier.verify(await check('a'));
  });
});
