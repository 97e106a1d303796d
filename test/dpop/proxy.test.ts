// DPoP at the resource proxy (RFC 9449 §7), end to end over real HTTP: an agent built on
// oauth4webapi gets a DPoP-bound token with the code flow and calls a tool of a real MCP server
// through the proxy; then every way a proof can be wrong, each refused with the RFC's challenge
// and none reaching the MCP server. The route's public URL (what `htu` names) is not the proxy's
// own address, as behind a TLS-terminating front.
import { exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, expectNoAuthorization, INIT, MCP_HEADERS, obtainToken, startChain } from '../proxy/helpers.js';
import { ath, type DpopAgent, dpopAgent, newKey, PASSWORD, type ProofClaims, proof } from './support.js';

const PUBLIC = 'https://mcp.example.com/mcp';

describe('DPoP at the resource proxy', () => {
  let chain: Chain;
  let agent: DpopAgent;
  let token: string;
  let internal: string;

  beforeAll(async () => {
    chain = await startChain({ resource: PUBLIC, json: true });
    await chain.as.addUser('alice', PASSWORD);
    internal = `${chain.proxy.url}/mcp`;
    agent = await dpopAgent(chain.as, PUBLIC, { username: 'alice' });
    token = agent.tokens.access_token;
  });
  afterEach(() => {
    expectNoAuthorization(chain.upstream);
    const proofs = chain.upstream.seen.filter((h) => h.dpop !== undefined);
    if (proofs.length > 0) throw new Error('the upstream saw a DPoP proof');
  });
  afterAll(async () => chain?.close());

  /** The agent's request as it leaves it (public URL), delivered to the proxy's own address. */
  const viaFront: typeof fetch = (input, init) =>
    fetch(
      String(input instanceof Request ? input.url : input).replace('https://mcp.example.com', chain.proxy.url),
      init,
    );

  const send = (headers: Record<string, string>, body: unknown = INIT, method = 'POST') =>
    fetch(internal, {
      method,
      headers: { ...MCP_HEADERS, ...headers },
      ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
    });

  const good = (claims: Partial<ProofClaims> = {}): ProofClaims => ({
    htm: 'POST',
    htu: PUBLIC,
    ath: ath(token),
    ...claims,
  });

  it('publishes DPoP in the protected resource metadata', async () => {
    const meta = (await (await fetch(`${chain.proxy.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.dpop_signing_alg_values_supported).toEqual(['ES256', 'Ed25519', 'EdDSA']);
    expect(meta.dpop_bound_access_tokens_required).toBe(false);
  });

  it('an oauth4webapi agent calls a tool of the MCP server with its DPoP-bound token', async () => {
    const request = (body: unknown, sid?: string) =>
      oauth.protectedResourceRequest(
        token,
        'POST',
        new URL(PUBLIC),
        new Headers({ ...MCP_HEADERS, ...(sid ? { 'mcp-session-id': sid } : {}) }),
        JSON.stringify(body),
        { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: viaFront, DPoP: agent.dpop },
      );
    const init = await request(INIT);
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id') ?? '';
    expect(sid).not.toBe('');
    await init.text();
    expect((await request({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).status).toBe(202);
    const called = await request(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'bound' } } },
      sid,
    );
    expect(called.status).toBe(200);
    expect(JSON.stringify(await called.json())).toContain('added: bound');
    expect(chain.upstream.notes).toContain('bound');
  });

  it('takes an Ed25519 key as well (the other algorithm the authorization server accepts)', async () => {
    const ed = await dpopAgent(chain.as, PUBLIC, { username: 'alice', key: await newKey('Ed25519') });
    expect(ed.tokens.token_type).toBe('dpop');
    const res = await oauth.protectedResourceRequest(
      ed.tokens.access_token,
      'POST',
      new URL(PUBLIC),
      new Headers(MCP_HEADERS),
      JSON.stringify(INIT),
      { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: viaFront, DPoP: ed.dpop },
    );
    expect(res.status).toBe(200);
    await res.text();
  });

  const refusals: [string, () => Promise<Record<string, string>>, string][] = [
    ['wrong htm', async () => ({ dpop: await proof(agent.key, good({ htm: 'GET' })) }), 'htm'],
    [
      "wrong htu (the proxy's internal address, not the public URL)",
      async () => ({ dpop: await proof(agent.key, good({ htu: internal })) }),
      'htu',
    ],
    ['htu of another path', async () => ({ dpop: await proof(agent.key, good({ htu: `${PUBLIC}/x` })) }), 'htu'],
    ['missing ath', async () => ({ dpop: await proof(agent.key, good({ ath: undefined })) }), 'ath'],
    ['ath of another token', async () => ({ dpop: await proof(agent.key, good({ ath: ath(`${token}x`) })) }), 'ath'],
    ['signed with another key', async () => ({ dpop: await proof(await newKey(), good()) }), 'key'],
    [
      "naming the agent's key but signed with another",
      async () => ({ dpop: await proof(await newKey(), good(), { jwk: await exportJWK(agent.key.publicKey) }) }),
      'dpop+jwt',
    ],
    [
      'stale iat',
      async () => ({ dpop: await proof(agent.key, good({ iat: Math.floor(Date.now() / 1000) - 120 })) }),
      'iat',
    ],
    [
      'iat in the future',
      async () => ({ dpop: await proof(agent.key, good({ iat: Math.floor(Date.now() / 1000) + 60 })) }),
      'iat',
    ],
    ['not a dpop+jwt', async () => ({ dpop: await proof(agent.key, good(), { typ: 'JWT' }) }), 'dpop+jwt'],
    [
      'a private key in its header',
      async () => ({ dpop: await proof(agent.key, good(), { jwk: await exportJWK(agent.key.privateKey) }) }),
      'dpop+jwt',
    ],
    [
      'alg none',
      async () => {
        const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const jwk = await exportJWK(agent.key.publicKey);
        const claims = { ...good(), iat: Math.floor(Date.now() / 1000), jti: 'none-1' };
        return { dpop: `${b64({ alg: 'none', typ: 'dpop+jwt', jwk })}.${b64(claims)}.` };
      },
      'dpop+jwt',
    ],
    ['no proof', async () => ({}), 'required'],
    ['a proof that is not a JWT', async () => ({ dpop: 'a.b.c' }), 'dpop+jwt'],
  ];

  for (const [name, headers, says] of refusals) {
    it(`refuses a DPoP request with ${name}`, async () => {
      const before = chain.upstream.seen.length;
      const res = await send({ authorization: `DPoP ${token}`, ...(await headers()) });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer resource_metadata="[^"]+", scope="mcp:read", DPoP algs="ES256 Ed25519 EdDSA"/);
      expect(challenge).toContain('DPoP algs="ES256 Ed25519 EdDSA", resource_metadata=');
      expect(challenge).toMatch(/DPoP .*error="invalid_dpop_proof", error_description="[^"]*/);
      expect(challenge.slice(challenge.indexOf('DPoP '))).toContain(says);
      expect(chain.upstream.seen.length).toBe(before);
    });
  }

  it('refuses a replayed proof', async () => {
    const once = await proof(agent.key, good());
    const first = await send({ authorization: `DPoP ${token}`, dpop: once });
    expect(first.status).toBe(200);
    await first.text();
    const before = chain.upstream.seen.length;
    const again = await send({ authorization: `DPoP ${token}`, dpop: once });
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('the DPoP proof was already used');
    expect(chain.upstream.seen.length).toBe(before);
  });

  it('refuses the bound token presented as a bearer token, with or without a proof', async () => {
    for (const extra of [{}, { dpop: await proof(agent.key, good()) }] as Record<string, string>[]) {
      const res = await send({ authorization: `Bearer ${token}`, ...extra });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer .*error="invalid_token", error_description="[^"]*DPoP-bound/);
      expect(challenge).toContain('DPoP algs=');
    }
  });

  it('answers a proof without a token with a plain challenge', async () => {
    const res = await send({ dpop: await proof(agent.key, good({ ath: undefined })) });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer resource_metadata=/);
    expect(challenge).toContain('DPoP algs="ES256 Ed25519 EdDSA"');
    expect(challenge).not.toContain('error=');
  });

  it('refuses an unbound token sent with the DPoP scheme; keeps taking it as a bearer token', async () => {
    const plain = await obtainToken(chain.as, PUBLIC, { username: 'alice' });
    const key = await newKey();
    const dpop = await proof(key, { htm: 'POST', htu: PUBLIC, ath: ath(plain.access) });
    const asDpop = await send({ authorization: `DPoP ${plain.access}`, dpop });
    expect(asDpop.status).toBe(401);
    expect(asDpop.headers.get('www-authenticate')).toMatch(/DPoP .*error="invalid_token".*not DPoP-bound/);
    const asBearer = await send({ authorization: `Bearer ${plain.access}` });
    expect(asBearer.status).toBe(200);
    await asBearer.text();
  });

  it('answers insufficient_scope in a DPoP challenge for a DPoP-bound token', async () => {
    const reader = await dpopAgent(chain.as, PUBLIC, { username: 'alice', scope: 'mcp:read' });
    const access = reader.tokens.access_token;
    const post = async (body: unknown, sid?: string) =>
      send(
        {
          authorization: `DPoP ${access}`,
          dpop: await proof(reader.key, { htm: 'POST', htu: PUBLIC, ath: ath(access) }),
          ...(sid ? { 'mcp-session-id': sid } : {}),
        },
        body,
      );
    const init = await post(INIT);
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).text();
    const write = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'no' } } },
      sid,
    );
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toMatch(
      /^DPoP algs="ES256 Ed25519 EdDSA", error="insufficient_scope", scope="mcp:read mcp:write"/,
    );
  });

  it('lets a browser-based agent send the DPoP header (CORS preflight)', async () => {
    const res = await fetch(internal, {
      method: 'OPTIONS',
      headers: { origin: 'https://agent.example', 'access-control-request-headers': 'authorization, dpop' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toContain('DPoP');
  });
});

describe('a route that requires DPoP', () => {
  let chain: Chain;
  let agent: DpopAgent;
  const STRICT = 'https://mcp.example.com/strict';

  beforeAll(async () => {
    chain = await startChain({ resource: STRICT, json: true, route: { requireDpop: true } });
    await chain.as.addUser('alice', PASSWORD);
    agent = await dpopAgent(chain.as, STRICT, { username: 'alice' });
  });
  afterAll(async () => chain?.close());

  it('says so in its metadata, refuses bearer tokens and takes DPoP-bound ones', async () => {
    const meta = (await (
      await fetch(`${chain.proxy.url}/.well-known/oauth-protected-resource/strict`)
    ).json()) as Record<string, unknown>;
    expect(meta.dpop_bound_access_tokens_required).toBe(true);

    const plain = await obtainToken(chain.as, STRICT, { username: 'alice' });
    const bearer = await fetch(`${chain.proxy.url}/strict`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${plain.access}` },
      body: JSON.stringify(INIT),
    });
    expect(bearer.status).toBe(401);
    // Only the DPoP challenge, without an error code: the scheme is not supported here.
    expect(bearer.headers.get('www-authenticate')).toBe(
      `DPoP algs="ES256 Ed25519 EdDSA", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/strict", scope="mcp:read"`,
    );
    const noToken = await fetch(`${chain.proxy.url}/strict`, { method: 'POST', headers: MCP_HEADERS, body: '{}' });
    expect(noToken.headers.get('www-authenticate')).toMatch(/^DPoP algs=/);

    const token = agent.tokens.access_token;
    const ok = await fetch(`${chain.proxy.url}/strict`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `DPoP ${token}`,
        dpop: await proof(agent.key, { htm: 'POST', htu: STRICT, ath: ath(token) }),
      },
      body: JSON.stringify(INIT),
    });
    expect(ok.status).toBe(200);
    await ok.text();
  });
});
