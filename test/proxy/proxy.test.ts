// The proxy against the real authorization server and a real SDK-built MCP server: discovery
// metadata, every refusal the issue lists, the tool-level scope policy, session binding,
// revocation, identity headers and forwarding. The upstream must never see an Authorization header.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/feed.js';
import {
  type Chain,
  expectNoAuthorization,
  forgeWithAsKey,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
} from './helpers.js';

/** Reads a response that is JSON or a one-message SSE stream and returns the JSON-RPC messages. */
async function messages(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return text
      .split(/\n\n/)
      .flatMap((block) => block.split('\n').filter((l) => l.startsWith('data: ')))
      .map((l) => JSON.parse(l.slice(6)));
  }
  const v = JSON.parse(text);
  return Array.isArray(v) ? v : [v];
}

describe('resource proxy', () => {
  let chain: Chain;
  let alice: Awaited<ReturnType<typeof obtainToken>>;
  let aliceRead: Awaited<ReturnType<typeof obtainToken>>;
  let bob: Awaited<ReturnType<typeof obtainToken>>;
  let mcp: string;

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('alice', PASSWORD);
    await chain.as.addUser('bob', PASSWORD);
    mcp = `${chain.proxy.url}/mcp`;
    alice = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    aliceRead = await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read' });
    bob = await obtainToken(chain.as, chain.resource, { username: 'bob' });
  });
  afterEach(() => expectNoAuthorization(chain.upstream));
  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await chain?.close();
  });

  const post = (token: string | undefined, body: unknown, headers: Record<string, string> = {}, url = mcp) =>
    fetch(url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  /** initialize + initialized; returns the session id. */
  async function openSession(token: string): Promise<string> {
    const res = await post(token, INIT);
    expect(res.status).toBe(200);
    const sid = res.headers.get('mcp-session-id');
    expect(sid).toBeTruthy();
    await res.text();
    const note = await post(
      token,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { 'mcp-session-id': sid ?? '' },
    );
    expect(note.status).toBe(202);
    return sid ?? '';
  }

  const call = (token: string, sid: string, name: string, args: Record<string, unknown> = {}, id = 7) =>
    post(
      token,
      { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
      { 'mcp-session-id': sid },
    );

  it('publishes RFC 9728 metadata at the path-based and the root well-known URL, naming the issuer exactly', async () => {
    const asMeta = (await (await fetch(`${chain.as.url}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
    };
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${chain.proxy.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.json()).toEqual({
        resource: chain.resource,
        authorization_servers: [asMeta.issuer],
        scopes_supported: ['mcp:read', 'mcp:write'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'Ed25519', 'EdDSA'],
        dpop_bound_access_tokens_required: false,
      });
    }
    expect((await fetch(`${chain.proxy.url}/.well-known/oauth-protected-resource/other`)).status).toBe(404);
  });

  it("answers a browser agent's CORS preflight and lets it read the challenge and the session id", async () => {
    const pre = await fetch(mcp, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://inspector.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const challenged = await post(undefined, INIT, { origin: 'https://inspector.example' });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('access-control-allow-origin')).toBe('*');
    expect(challenged.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    await challenged.text();
    const opened = await post(alice.access, INIT, { origin: 'https://inspector.example' });
    expect(opened.status).toBe(200);
    expect(opened.headers.get('access-control-expose-headers')).toContain('Mcp-Session-Id');
    await opened.text();
  });

  it('answers /healthz and /readyz; /metrics is not on the public listener without a token', async () => {
    expect((await fetch(`${chain.proxy.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${chain.proxy.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { keys: true, revocation_feed: true } });
    expect((await fetch(`${chain.proxy.url}/metrics`)).status).toBe(404);
  });

  describe('refuses, and never forwards', () => {
    type Case = [name: string, make: () => Promise<{ token?: string; url?: string }>, status: number, error?: string];
    const now = () => Math.floor(Date.now() / 1000);
    const claims = () => ({
      iss: chain.as.url,
      aud: chain.resource,
      sub: alice.sub,
      client_id: alice.clientId,
      scope: 'mcp:read mcp:write',
      grant_id: alice.grantId,
      jti: randomUUID(),
      iat: now(),
      exp: now() + 300,
    });
    const cases: Case[] = [
      ['no token', async () => ({}), 401],
      ['a token in the query', async () => ({ url: `${mcp}?access_token=${alice.access}` }), 400, 'invalid_request'],
      ['a malformed bearer value', async () => ({ token: 'not a token!' }), 401, 'invalid_token'],
      ['a random string', async () => ({ token: 'abc.def.ghi' }), 401, 'invalid_token'],
      ['alg none', async () => ({ token: new UnsecuredJWT(claims()).setIssuedAt().encode() }), 401, 'invalid_token'],
      [
        'HS256 signed with the public key',
        async () => {
          const { keys } = (await (await fetch(`${chain.as.url}/jwks`)).json()) as { keys: Record<string, string>[] };
          const pub = keys[0] ?? {};
          const secret = new TextEncoder().encode(JSON.stringify(pub));
          const token = await new SignJWT(claims())
            .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: pub.kid ?? '' })
            .sign(secret);
          return { token };
        },
        401,
        'invalid_token',
      ],
      [
        'wrong aud',
        async () => ({ token: await forgeWithAsKey(chain.as, { ...claims(), aud: 'http://127.0.0.1:1/mcp' }) }),
        401,
        'invalid_token',
      ],
      [
        'wrong iss',
        async () => ({ token: await forgeWithAsKey(chain.as, { ...claims(), iss: 'http://127.0.0.1:1' }) }),
        401,
        'invalid_token',
      ],
      [
        'expired',
        async () => ({ token: await forgeWithAsKey(chain.as, { ...claims(), iat: now() - 900, exp: now() - 600 }) }),
        401,
        'invalid_token',
      ],
      [
        'typ JWT instead of at+jwt',
        async () => ({ token: await forgeWithAsKey(chain.as, claims(), { typ: 'JWT' }) }),
        401,
        'invalid_token',
      ],
      [
        'no client_id',
        async () => ({ token: await forgeWithAsKey(chain.as, { ...claims(), client_id: undefined }) }),
        401,
        'invalid_token',
      ],
      [
        'unknown kid',
        async () => {
          const { privateKey, publicKey } = await generateKeyPair('ES256');
          const kid = (await exportJWK(publicKey)).x ?? 'x';
          return {
            token: await new SignJWT(claims())
              .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
              .sign(privateKey),
          };
        },
        401,
        'invalid_token',
      ],
      [
        'a revoked grant',
        async () => {
          const t = await obtainToken(chain.as, chain.resource, { username: 'bob' });
          await chain.as.app.stores.revocations.revokeGrant(t.grantId, 'admin:proxy-test', now(), 'test');
          // Until the revocation reaches the proxy, polled with a session id the proxy never saw,
          // so nothing reaches the upstream: 404 while the token passes, 401 once it is revoked.
          await eventually(async () => {
            const r = await post(t.access, INIT, { 'mcp-session-id': randomUUID() });
            await r.body?.cancel();
            return r.status === 401;
          });
          return { token: t.access };
        },
        401,
        'invalid_token',
      ],
    ];

    for (const [name, make, status, error] of cases) {
      it(name, async () => {
        const before = chain.upstream.seen.length;
        const { token, url } = await make();
        const res = await post(token, INIT, {}, url);
        expect(res.status).toBe(status);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer /);
        expect(challenge).toContain(`resource_metadata="${chain.proxy.url}/.well-known/oauth-protected-resource/mcp"`);
        expect(challenge).toContain('scope="mcp:read"');
        if (error) expect(challenge).toContain(`error="${error}"`);
        else expect(challenge).not.toContain('error=');
        expect(chain.upstream.seen.length).toBe(before);
      });
    }

    it('a session id reused by another user, or by another agent of the same user', async () => {
      const sid = await openSession(alice.access);
      const before = chain.upstream.seen.length;
      for (const other of [bob.access, aliceRead.access]) {
        const res = await call(other, sid, 'read_notes');
        expect(res.status).toBe(403);
        for (const method of ['GET', 'DELETE']) {
          const r = await fetch(mcp, {
            method,
            headers: { authorization: `Bearer ${other}`, 'mcp-session-id': sid, accept: 'text/event-stream' },
          });
          expect(r.status, method).toBe(403);
        }
      }
      expect(chain.upstream.seen.length).toBe(before);
      // The owner still can.
      expect((await call(alice.access, sid, 'read_notes')).status).toBe(200);
    });

    it('a session id the proxy never saw created', async () => {
      const res = await call(alice.access, randomUUID(), 'read_notes');
      expect(res.status).toBe(404);
    });
  });

  it('enforces the tool policy: read tool with a read token, 403 insufficient_scope with the full scope list on the write tool', async () => {
    const sid = await openSession(aliceRead.access);
    // Learn readOnlyHint from the upstream's own tools/list (an SSE answer).
    const list = await post(
      aliceRead.access,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': sid },
    );
    expect(list.status).toBe(200);
    const result = (await messages(list))[0]?.result as { tools: { name: string }[] } | undefined;
    const tools = (result?.tools ?? []).map((t) => t.name);
    expect(tools.sort()).toEqual(['add_note', 'read_notes']);

    const read = await call(aliceRead.access, sid, 'read_notes');
    expect(read.status).toBe(200);
    expect(JSON.stringify(await messages(read))).toContain('first note');

    const before = chain.upstream.seen.length;
    const write = await call(aliceRead.access, sid, 'add_note', { text: 'nope' });
    expect(write.status).toBe(403);
    const h = write.headers.get('www-authenticate') ?? '';
    expect(h).toMatch(/^Bearer error="insufficient_scope"/);
    expect(h).toContain('scope="mcp:read mcp:write"');
    expect(h).toContain(`resource_metadata="${chain.proxy.url}/.well-known/oauth-protected-resource/mcp"`);
    // A batch is allowed only if every call in it is; an unknown tool counts as writing.
    const batch = await post(
      aliceRead.access,
      [
        { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'read_notes' } },
        { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
      ],
      { 'mcp-session-id': sid },
    );
    expect(batch.status).toBe(403);
    expect((await call(aliceRead.access, sid, 'never_listed')).status).toBe(403);
    expect(chain.upstream.seen.length).toBe(before);
    expect(chain.upstream.notes).not.toContain('nope');

    // With the write scope (same user, another token) in its own session it works.
    const sid2 = await openSession(alice.access);
    const ok = await call(alice.access, sid2, 'add_note', { text: 'hello' });
    expect(ok.status).toBe(200);
    expect(chain.upstream.notes).toContain('hello');
  });

  it('passes the verified identity and a request id, and strips client-sent identity headers, cookies and the token', async () => {
    const before = chain.upstream.seen.length;
    const res = await post(alice.access, INIT, {
      'x-mcp-subject': 'admin',
      'x-mcp-client-id': 'forged',
      'x-mcp-scopes': 'everything',
      'x-forwarded-user': 'root',
      cookie: 'session=secret',
      'x-request-id': 'trace-abc.123',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    await res.text();
    const seen = chain.upstream.seen.slice(before);
    expect(seen).toHaveLength(1);
    const h = seen[0] ?? {};
    expect(h['x-mcp-subject']).toBe(alice.sub);
    expect(h['x-mcp-client-id']).toBe(alice.clientId);
    expect(h['x-mcp-scopes']).toBe('mcp:read mcp:write');
    expect(h['x-forwarded-user']).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h.authorization).toBeUndefined();
    expect(h['x-request-id']).toBe('trace-abc.123');

    // A request id that is not sane is replaced.
    const res2 = await post(alice.access, INIT, { 'x-request-id': 'bad id\twith spaces' });
    await res2.text();
    const rid = res2.headers.get('x-request-id') ?? '';
    expect(rid).toMatch(/^[0-9a-f-]{36}$/);
    expect(chain.upstream.seen.at(-1)?.['x-request-id']).toBe(rid);
  });

  it('refuses bad bodies with 4xx JSON-RPC errors and never forwards them', async () => {
    const before = chain.upstream.seen.length;
    const cases: [unknown, Record<string, string>, number][] = [
      ['{not json', {}, 400],
      [[], {}, 400],
      [{ jsonrpc: '1.0', id: 1, method: 'ping' }, {}, 400],
      [{ jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }, {}, 400],
      [INIT, { 'content-type': 'text/plain' }, 415],
      ['x'.repeat(5 * 1024 * 1024), {}, 413],
    ];
    for (const [body, headers, status] of cases) {
      const res = await post(alice.access, body, headers);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { jsonrpc: string }).jsonrpc).toBe('2.0');
    }
    const put = await fetch(mcp, { method: 'PUT', headers: { authorization: `Bearer ${alice.access}` } });
    expect(put.status).toBe(405);
    expect(chain.upstream.seen.length).toBe(before);
  });

  it('streams the GET event stream and ends sessions with DELETE', async () => {
    const sid = await openSession(alice.access);
    const ctrl = new AbortController();
    const stream = await fetch(mcp, {
      headers: {
        authorization: `Bearer ${alice.access}`,
        'mcp-session-id': sid,
        accept: 'text/event-stream',
        'mcp-protocol-version': '2025-06-18',
      },
      signal: ctrl.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    ctrl.abort();
    const del = await fetch(mcp, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alice.access}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' },
    });
    expect(del.status).toBe(200);
    // The binding went with the session.
    expect((await call(alice.access, sid, 'read_notes')).status).toBe(404);
  });

  it('refuses a token within a second of its grant being revoked', async () => {
    const t = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    const sid = await openSession(t.access);
    expect((await call(t.access, sid, 'read_notes')).status).toBe(200);
    await chain.as.app.stores.revocations.revokeGrant(
      t.grantId,
      'admin:proxy-test',
      Math.floor(Date.now() / 1000),
      'test',
    );
    // The bound docs/proxy.md promises: refused within a second of the revoke.
    const status = await eventually(
      async () => {
        const r = await call(t.access, sid, 'read_notes');
        await r.text();
        return r.status === 401 ? r.status : 0;
      },
      1000,
      20,
    );
    expect(status).toBe(401);
  });
});
