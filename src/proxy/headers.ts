// Which headers cross the proxy. Upstream, the client's request headers go through minus anything
// that could speak for the proxy: hop-by-hop headers (RFC 9110 §7.6.1, with those the Connection
// header names), the token and cookies, identity headers a client might forge, and forwarding
// headers (the proxy sets X-Forwarded-* from its own view of the connection). Names are compared
// with `_` read as `-`, since many servers (and CGI-style frameworks) treat the two alike.
// Downstream, only an allow-list of the upstream's response headers is relayed.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { IdentityHeaderNames } from '../config/proxy.js';
import type { VerifiedToken } from './verifier.js';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

const DROP_REQUEST = new Set([
  ...HOP_BY_HOP,
  'host',
  'content-length',
  'authorization',
  'proxy-authorization',
  'dpop',
  'cookie',
  'accept-encoding',
  'expect',
  'x-request-id',
  // Forwarding: only the proxy says where a request came from.
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-rewrite-url',
  'x-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // Identity claims other proxies and frameworks trust.
  'x-remote-user',
  'remote-user',
  'x-user',
  'x-user-id',
  'x-client-id',
]);
const DROP_REQUEST_PREFIXES = ['x-forwarded-', 'x-original-', 'x-mcp-', 'x-auth-request-'];

/**
 * Upstream response headers relayed to the client. Everything else (cookies, Clear-Site-Data, CORS,
 * redirects, internal debugging headers) stays behind the proxy. `WWW-Authenticate` is not relayed
 * either: the proxy alone speaks OAuth to the client, and an upstream challenge would send the agent
 * off to re-authorize with a token that is fine (an upstream 401 becomes a 502, see relay.ts).
 */
const RELAY_RESPONSE = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'vary',
  'retry-after',
  'allow',
  'mcp-session-id',
  'mcp-protocol-version',
]);

const canonical = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** The header names a Connection header lists (RFC 9110 §7.6.1): hop-by-hop, never relayed. */
function connectionNamed(value: string | string[] | undefined): Set<string> {
  const raw = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(raw.split(',').map((t) => canonical(t.trim())));
}

export function upstreamRequestHeaders(
  req: IncomingMessage,
  opts: {
    identity: IdentityHeaderNames;
    credential: { header: string; value: string } | undefined;
    token: VerifiedToken;
    requestId: string;
  },
): Record<string, string | string[]> {
  const { identity, credential, token } = opts;
  const own = new Set(
    [identity.subject, identity.clientId, identity.scopes, identity.subjectType, credential?.header].filter(Boolean),
  );
  const hop = connectionNamed(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const n = canonical(name);
    if (DROP_REQUEST.has(n) || hop.has(n) || own.has(n) || DROP_REQUEST_PREFIXES.some((p) => n.startsWith(p))) continue;
    out[name] = value;
  }
  out['x-request-id'] = opts.requestId;
  out['accept-encoding'] = 'identity';
  const host = req.headers.host;
  out['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  out['x-forwarded-proto'] = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (typeof host === 'string') out['x-forwarded-host'] = host;
  if (credential) {
    out[credential.header] = credential.value;
  } else {
    out[identity.subject] = token.sub;
    out[identity.clientId] = token.clientId;
    out[identity.scopes] = token.scope;
    out[identity.subjectType] = subjectType(token);
  }
  return out;
}

/**
 * Who the token speaks for. A client-credentials token (a service client on its own behalf) names
 * the client as its subject (RFC 9068 §2.2) and comes from no user's grant; every token a user's
 * consent led to carries its grant_id.
 */
export function subjectType(token: Pick<VerifiedToken, 'sub' | 'clientId' | 'grantId'>): 'user' | 'client' {
  return token.grantId === undefined && token.sub === token.clientId ? 'client' : 'user';
}

/** The upstream's response headers the client may see. */
export function relayedResponseHeaders(upstream: IncomingHttpHeaders): Record<string, string | string[]> {
  const hop = connectionNamed(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || !RELAY_RESPONSE.has(name) || hop.has(name)) continue;
    out[name] = value;
  }
  return out;
}
