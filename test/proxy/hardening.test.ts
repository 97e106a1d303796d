// What the proxy must not let through in either direction: an auth_request URI that nginx routes
// elsewhere, forged identity and forwarding headers, upstream response headers outside the
// allow-list, and event streams that outlive their grant or their token.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyConfig, startProxy } from '../../src/proxy/index.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { eventually } from '../support/feed.js';
import {
  type Chain,
  captureLog,
  drain,
  expectNoAuthorization,
  forgeWithAsKey,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
  type Upstream,
} from './helpers.js';

/** A bare upstream: POST answers JSON with awkward headers, GET opens an event stream that never ends. */
async function startRawUpstream(): Promise<Upstream & { open: () => number }> {
  const seen: IncomingHttpHeaders[] = [];
  const streams = new Set<ServerResponse>();
  const http = createServer((req, res) => {
    seen.push({ ...req.headers });
    if (req.method === 'GET') {
      streams.add(res);
      res.on('close', () => streams.delete(res));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      return;
    }
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} });
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop-secret, etag',
        'x-hop-secret': 'internal',
        etag: '"named-in-connection"',
        'access-control-allow-origin': 'https://evil.example',
        'access-control-allow-credentials': 'true',
        'clear-site-data': '"*"',
        'set-cookie': 'sid=upstream',
        'set-cookie2': 'sid=upstream',
        'x-internal-debug': 'db=10.0.0.5',
        'www-authenticate': 'Basic realm="upstream"',
        'mcp-session-id': 'sess-1',
        'cache-control': 'no-store',
        'x-request-id': 'upstream-made-up',
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    seen,
    notes: [],
    open: () => streams.size,
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}

describe('proxy hardening', () => {
  let as: TestServer;
  let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
  const chains: Chain[] = [];

  beforeAll(async () => {
    as = await startTestServer();
    await as.addUser('alice', PASSWORD);
    upstream = await startRawUpstream();
  });
  afterAll(async () => {
    for (const c of chains) await c.close();
    expectNoAuthorization(upstream);
    await upstream?.close();
    await as?.close();
  });

  const chain = async (opts: Parameters<typeof startChain>[0] = {}) => {
    const c = await startChain({ as, upstream, ...opts });
    chains.push(c);
    return c;
  };
  /** Restarts the chain's proxy with a logger the test reads. */
  const withLog = async (c: Chain) => {
    const cap = captureLog();
    await c.proxy.close();
    c.proxy = await startProxy(c.config, { logger: cap.logger });
    return cap;
  };
  /** Waits (bounded) for a streamed response to end, however it ends. */
  const ended = async (res: Response, timeoutMs = 2000) => {
    let done = false;
    void drain(res).then(() => {
      done = true;
    });
    await eventually(() => done, timeoutMs);
  };
  const openStream = (c: Chain, token: string) =>
    fetch(`${c.proxy.url}/mcp`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    });

  it('auth_request matches X-Original-URI exactly and refuses paths nginx would route elsewhere', async () => {
    const c = await chain();
    const port = Number(new URL(c.proxy.url).port);
    await c.proxy.close();
    const config = proxyConfig({
      issuer: as.url,
      feed: c.feed,
      routes: [
        { resource: c.resource, upstream: upstream.url },
        { resource: `http://127.0.0.1:${port}/echo`, upstream: upstream.url },
      ],
      authRequestPath: '/_auth',
      logLevel: 'silent',
      port,
    });
    c.proxy = await startProxy(config);
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const ask = (uri: string) =>
      fetch(`${c.proxy.url}/_auth`, { headers: { authorization: `Bearer ${t.access}`, 'x-original-uri': uri } });
    expect((await ask('/mcp')).status).toBe(204);
    expect((await ask('/mcp?x=1')).status).toBe(204);
    const sneaky = [
      '/echo/..\\mcp',
      '/echo/%2e%2e/mcp',
      '/echo/%2E%2E/mcp',
      '/echo/.%2e/mcp',
      '/echo/../mcp',
      '/./mcp',
      '/mcp/.',
      '/echo%2f..%2fmcp',
      '/echo%2F..%2Fmcp',
      '/echo/%5c../mcp',
      '\\mcp',
      'mcp',
      '//mcp',
      '/MCP',
      '/mcp/',
    ];
    for (const uri of sneaky) {
      const res = await ask(uri);
      expect([400, 403], uri).toContain(res.status);
    }
  });

  it('drops forged identity and forwarding headers (also with underscores) and sets its own X-Forwarded-*', async () => {
    const c = await chain();
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const before = upstream.seen.length;
    const res = await fetch(`${c.proxy.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${t.access}`,
        x_mcp_subject: 'admin',
        x_mcp_client_id: 'forged',
        'x-mcp-anything': 'forged',
        x_forwarded_user: 'root',
        'x-forwarded-for': '6.6.6.6',
        x_forwarded_for: '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-port': '443',
        'x-real-ip': '6.6.6.6',
        'x-original-url': '/admin',
        'x-original-uri': '/admin',
        'x-rewrite-url': '/admin',
        'x-client-ip': '6.6.6.6',
        'true-client-ip': '6.6.6.6',
        'cf-connecting-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        remote_user: 'root',
        proxy_authorization: 'Basic eDp5',
      },
      body: JSON.stringify(INIT),
    });
    expect(res.status).toBe(200);
    await res.text();
    const seen = upstream.seen.slice(before);
    expect(seen).toHaveLength(1);
    const h = seen[0] ?? {};
    const names = Object.keys(h).map((n) => n.replaceAll('_', '-'));
    for (const forged of [
      'x-mcp-anything',
      'x-forwarded-user',
      'x-forwarded-port',
      'x-real-ip',
      'x-original-url',
      'x-original-uri',
      'x-rewrite-url',
      'x-client-ip',
      'true-client-ip',
      'cf-connecting-ip',
      'forwarded',
      'remote-user',
      'proxy-authorization',
    ]) {
      expect(names, forged).not.toContain(forged);
    }
    expect(Object.keys(h).filter((n) => n.includes('_'))).toEqual([]);
    expect(h['x-mcp-subject']).toBe(t.sub);
    expect(h['x-mcp-client-id']).toBe(t.clientId);
    expect(h['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(c.proxy.url).host);
  });

  it('relays only allow-listed upstream response headers, drops Connection-named ones, and keeps its own CORS', async () => {
    const c = await chain();
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const res = await fetch(`${c.proxy.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${t.access}`, origin: 'https://agent.example' },
      body: JSON.stringify(INIT),
    });
    expect(res.status).toBe(200);
    await res.text();
    const h = res.headers;
    expect(h.get('content-type')).toBe('application/json');
    expect(h.get('mcp-session-id')).toBe('sess-1');
    expect(h.get('cache-control')).toBe('no-store');
    expect(h.get('access-control-allow-origin')).toBe('*');
    expect(h.get('access-control-allow-credentials')).toBeNull();
    for (const name of ['x-hop-secret', 'etag', 'clear-site-data', 'set-cookie', 'set-cookie2', 'x-internal-debug']) {
      expect(h.get(name), name).toBeNull();
    }
    expect(h.get('www-authenticate')).toBeNull();
    expect(h.get('x-request-id')).not.toBe('upstream-made-up');
  });

  it('closes an open event stream when its grant is revoked, and audits the close as revoked', async () => {
    const c = await chain();
    const cap = await withLog(c);
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const stream = await openStream(c, t.access);
    expect(stream.status).toBe(200);
    await eventually(() => upstream.open() > 0);
    await as.app.stores.revocations.revokeGrant(t.grantId, 'admin:proxy-test', Math.floor(Date.now() / 1000), 'test');
    await ended(stream);
    await eventually(() => upstream.open() === 0);
    const line = await eventually(() =>
      cap.lines.find((l) => l.audit === 'mcp_call' && l.method === 'stream' && l.grant === t.grantId),
    );
    expect(line).toMatchObject({ decision: 'revoked', closed: 'revoked', upstream_status: 200 });
  });

  it('closes an open event stream when the token it was opened with expires', async () => {
    const c = await chain({ config: { clockToleranceSeconds: 0 } });
    const cap = await withLog(c);
    const now = Math.floor(Date.now() / 1000);
    const grant = `grant-${randomUUID()}`;
    const token = await forgeWithAsKey(as, {
      iss: as.url,
      aud: c.resource,
      sub: 'alice-sub',
      client_id: 'agent',
      scope: 'mcp:read mcp:write',
      grant_id: grant,
      jti: randomUUID(),
      iat: now,
      exp: now + 2,
    });
    const stream = await openStream(c, token);
    expect(stream.status).toBe(200);
    await ended(stream, 5000);
    const line = await eventually(() => cap.lines.find((l) => l.audit === 'mcp_call' && l.grant === grant));
    expect(line).toMatchObject({ method: 'stream', decision: 'token_expired', closed: 'token_expired' });
  });
});
