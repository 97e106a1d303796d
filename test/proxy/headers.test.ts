// Which headers cross the proxy, directly: the request headers the upstream may see (nothing that
// speaks for the proxy, whatever the case or `_` spelling), the upstream response headers the client
// may see (an allow-list, minus what the upstream's Connection header names), and which
// X-Original-URI values auth_request accepts (exact route paths only).
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { NO_TOOL_RESTRICTIONS } from '../../src/lib/tool_labels.js';
import { resolveOriginalUri } from '../../src/proxy/endpoints/auth_request.js';
import type { Route } from '../../src/proxy/exchange.js';
import { relayedResponseHeaders, upstreamRequestHeaders } from '../../src/proxy/headers.js';
import type { VerifiedToken } from '../../src/proxy/verifier.js';

const token: VerifiedToken = {
  sub: 'alice',
  clientId: 'agent',
  scope: 'mcp:read',
  scopes: new Set(['mcp:read']),
  grantId: 'g1',
  iat: 1,
  exp: 2,
  tools: NO_TOOL_RESTRICTIONS,
};
const identity = {
  subject: 'x-mcp-subject',
  clientId: 'x-mcp-client-id',
  scopes: 'x-mcp-scopes',
  subjectType: 'x-mcp-subject-type',
};

const request = (headers: Record<string, string>) =>
  ({ headers, socket: { remoteAddress: '10.1.2.3', encrypted: false } }) as unknown as IncomingMessage;

describe('request headers sent upstream', () => {
  it('drops every header that could speak for the proxy, however it is spelt', () => {
    const dropped = [
      'authorization',
      'proxy_authorization',
      'cookie',
      'host',
      'connection',
      'keep-alive',
      'te',
      'upgrade',
      'x-request-id',
      'x-mcp-subject',
      'x_mcp_subject',
      'X_MCP_CLIENT_ID',
      'x-mcp-whatever',
      'x-user-sub',
      'x-forwarded-for',
      'x_forwarded_for',
      'x-forwarded-user',
      'x-forwarded-email',
      'x-forwarded-anything',
      'x-original-url',
      'x_original_uri',
      'x-rewrite-url',
      'forwarded',
      'x-real-ip',
      'x_real_ip',
      'x-client-ip',
      'true-client-ip',
      'cf-connecting-ip',
      'fastly-client-ip',
      'x-cluster-client-ip',
      'x-auth-request-user',
      'remote_user',
      'x-remote-user',
      'x-http-method-override',
      'x-named-by-connection',
    ];
    const headers: Record<string, string> = { connection: 'x-named-by-connection' };
    for (const name of dropped) headers[name.toLowerCase()] ??= 'forged';
    headers['content-type'] = 'application/json';
    headers['mcp-protocol-version'] = '2025-06-18';
    headers['last-event-id'] = '7';
    const out = upstreamRequestHeaders(request(headers), {
      identity: { ...identity, subject: 'x-user-sub' },
      credential: undefined,
      token,
      requestId: 'rid',
    });
    expect(out).toEqual({
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-06-18',
      'last-event-id': '7',
      'x-request-id': 'rid',
      'accept-encoding': 'identity',
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'forged', // the Host the client asked the proxy for
      'x-user-sub': 'alice',
      'x-mcp-client-id': 'agent',
      'x-mcp-scopes': 'mcp:read',
      'x-mcp-subject-type': 'user',
    });
  });

  it('says whether the subject is a user or a service client acting on its own behalf', () => {
    const forged = request({ 'x-mcp-subject-type': 'client' });
    const opts = { identity, credential: undefined, requestId: 'rid' };
    expect(upstreamRequestHeaders(forged, { ...opts, token })['x-mcp-subject-type']).toBe('user');
    const service = { ...token, sub: 'svc_1', clientId: 'svc_1', grantId: undefined };
    expect(upstreamRequestHeaders(forged, { ...opts, token: service })['x-mcp-subject-type']).toBe('client');
    // A user whose id happens to equal the client id still came through a grant.
    expect(
      upstreamRequestHeaders(forged, { ...opts, token: { ...service, grantId: 'g1' } })['x-mcp-subject-type'],
    ).toBe('user');
  });

  it('sends a static credential instead of the identity, never the client-sent one', () => {
    const out = upstreamRequestHeaders(request({ 'x-api-key': 'client', x_api_key: 'client', host: 'p.example' }), {
      identity,
      credential: { header: 'x-api-key', value: 'static' },
      token,
      requestId: 'rid',
    });
    expect(out['x-api-key']).toBe('static');
    expect(out.x_api_key).toBeUndefined();
    expect(out['x-forwarded-host']).toBe('p.example');
    expect(out['x-mcp-subject']).toBeUndefined();
  });
});

describe('response headers relayed to the client', () => {
  it('relays the allow-list only, minus what Connection names', () => {
    const upstream = {
      connection: 'keep-alive, ETag, x-hop',
      'keep-alive': 'timeout=5',
      'x-hop': '1',
      etag: '"e"',
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'mcp-session-id': 's',
      'mcp-protocol-version': '2025-06-18',
      'retry-after': '3',
      vary: 'accept',
      'set-cookie': ['a=b'],
      set_cookie2: 'a=b',
      'set-cookie2': 'a=b',
      'clear-site-data': '"*"',
      'access-control-allow-origin': 'https://evil.example',
      'access-control-allow-credentials': 'true',
      'www-authenticate': 'Basic realm="x"',
      location: 'http://10.0.0.5/',
      'x-request-id': 'upstream',
      'strict-transport-security': 'max-age=1',
      'transfer-encoding': 'chunked',
      server: 'internal/1.0',
    };
    expect(relayedResponseHeaders(upstream)).toEqual({
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'mcp-session-id': 's',
      'mcp-protocol-version': '2025-06-18',
      'retry-after': '3',
      vary: 'accept',
    });
  });
});

describe('auth_request X-Original-URI', () => {
  const route = (path: string) => ({ path, config: {} }) as unknown as Route;
  const routes = new Map([
    ['/mcp', route('/mcp')],
    ['/echo', route('/echo')],
  ]);
  const cases: [uri: string | string[] | undefined, path: string | undefined, search?: string][] = [
    ['/mcp', '/mcp', ''],
    ['/mcp?a=1&b', '/mcp', '?a=1&b'],
    ['/echo', '/echo', ''],
    ['/mcp?x=/../echo', '/mcp', '?x=/../echo'],
    [undefined, undefined],
    [['/mcp', '/echo'], undefined],
    ['', undefined],
    ['mcp', undefined],
    ['http://host/mcp', undefined],
    ['/mcp/', undefined],
    ['/MCP', undefined],
    ['//mcp', undefined],
    ['/mcp#x', undefined],
    ['/echo/..\\mcp', undefined],
    ['\\mcp', undefined],
    ['/echo/../mcp', undefined],
    ['/./mcp', undefined],
    ['/mcp/.', undefined],
    ['/echo/%2e%2e/mcp', undefined],
    ['/echo/%2E%2e/mcp', undefined],
    ['/echo/.%2E/mcp', undefined],
    ['/echo%2fmcp', undefined],
    ['/echo%2F..%2Fmcp', undefined],
    ['/echo/%5c../mcp', undefined],
    ['/mcp%00', undefined],
  ];
  for (const [uri, path, search] of cases) {
    it(`${JSON.stringify(uri) ?? 'absent'} → ${path ?? 'refused'}`, () => {
      const r = resolveOriginalUri(routes, uri);
      expect(r?.route.path).toBe(path);
      if (path) expect(r?.search).toBe(search);
    });
  }
  it('without the header, the single route of a one-route proxy', () => {
    const one = new Map([['/mcp', route('/mcp')]]);
    expect(resolveOriginalUri(one, undefined)?.route.path).toBe('/mcp');
  });
});
