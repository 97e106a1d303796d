// The resource proxy: an OAuth resource server in front of an MCP server that checks no tokens.
// It publishes RFC 9728 metadata, verifies JWT access tokens locally, follows the revocation feed,
// enforces the tool-level scope policy on the JSON-RPC body, binds sessions to their creator, and
// streams everything else through to the upstream with the token removed.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Pool } from 'undici';
import type { ProxyConfig, RouteConfig } from '../config/proxy.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';
import { observeJsonBody, sseObserver } from './observe.js';
import { type Call, createToolPolicy, type ToolPolicy } from './policy.js';
import { createRevocationSubscriber, RevocationFeedError, type RevocationSubscriber } from './revocation_feed.js';
import { createSessionBindings, type SessionBindings } from './sessions.js';
import {
  createKeySet,
  createVerifier,
  InvalidTokenError,
  type KeySet,
  KeysUnavailableError,
  type VerifiedToken,
  type Verifier,
} from './verifier.js';

export interface ProxyOptions {
  logger?: Logger;
  /** Benchmark baseline only: no token, revocation or scope checks. Not reachable from env/config. */
  unsafeSkipTokenChecks?: boolean;
  /** Register Node process metrics (only the real process does). */
  collectDefaultMetrics?: boolean;
  /** How long startProxy waits for the first key set and feed sync before answering anyway. */
  startupWaitMs?: number;
}

export interface RunningProxy {
  url: string;
  /** The separate metrics listener, when configured. */
  metricsUrl: string | undefined;
  ready(): boolean;
  close(): Promise<void>;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const METADATA_PATH = '/.well-known/oauth-authorization-server';
const MCP_CORS_EXPOSE = 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, X-Request-Id';
const MCP_CORS_ALLOW =
  'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, X-Request-Id';
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Never forwarded: hop-by-hop headers (RFC 9110 §7.6.1), the token, cookies meant for this host,
// compression we would have to undo, and identity claims a client might try to forge.
const DROP_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'authorization',
  'proxy-authorization',
  'cookie',
  'accept-encoding',
  'expect',
  'x-request-id',
  'forwarded',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-remote-user',
  'remote-user',
  'x-user',
  'x-user-id',
  'x-client-id',
]);
const DROP_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'set-cookie',
]);

interface Route {
  config: RouteConfig;
  path: string;
  metadataUrl: string;
  metadata: string;
  scopes: readonly string[];
  policy: ToolPolicy;
  pool: Pool;
  upstreamPath: string;
}

type Outcome =
  | 'allow'
  | 'no_token'
  | 'token_in_query'
  | 'invalid_token'
  | 'revoked'
  | 'insufficient_scope'
  | 'session_mismatch'
  | 'session_unknown'
  | 'bad_request'
  | 'too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'unavailable'
  | 'upstream_error';

const quote = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;

function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  extra: Record<string, string> = {},
) {
  if (res.headersSent) return;
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra }).end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
  res.end(JSON.stringify(value));
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Reads the request body up to `limit` bytes; resolves undefined when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('client aborted')));
  });
}

export async function startProxy(config: ProxyConfig, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const log = opts.logger ?? pino({ level: config.logLevel, base: undefined });
  const skipChecks = opts.unsafeSkipTokenChecks === true;
  if (skipChecks) log.warn('token checks are OFF (benchmark baseline); never run this way in production');

  // --- Authorization server: metadata, keys, revocation feed -------------------------------------
  // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
  const issuerPath = new URL(config.issuer).pathname.replace(/\/+$/, '');
  const asBase = new URL(config.authorizationServerUrl);
  const asMetadataUrl = `${asBase.origin}${METADATA_PATH}${issuerPath}`;
  // Behind a container network the public issuer is not reachable: fetch from the internal URL.
  const internal = (url: string) =>
    url.startsWith(config.issuer) ? config.authorizationServerUrl + url.slice(config.issuer.length) : url;
  let jwksUri: string | undefined;
  let fatal: Error | undefined;
  const discover = async (): Promise<string> => {
    if (jwksUri) return jwksUri;
    const res = await fetch(asMetadataUrl, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`authorization server metadata answered ${res.status}`);
    }
    const meta = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (meta.issuer !== config.issuer) {
      // RFC 8414 §3.3: the issuer must be identical; RFC 9728 clients compare it exactly too.
      fatal = new Error(
        `the authorization server calls itself ${JSON.stringify(meta.issuer)}, not ${JSON.stringify(config.issuer)}: set MCP_PROXY_ISSUER to exactly its issuer`,
      );
      throw fatal;
    }
    if (typeof meta.jwks_uri !== 'string') throw new Error('authorization server metadata has no jwks_uri');
    jwksUri = internal(meta.jwks_uri);
    return jwksUri;
  };

  let metrics: ProxyMetrics;
  let keysFailing = false;
  let subscriber: RevocationSubscriber | undefined;
  const keys: KeySet = createKeySet({
    jwksUri: discover,
    refreshMs: 10 * 60_000,
    onRefresh: (result, err) => {
      metrics?.keySetRefreshes.inc({ result });
      // Warn when the key set becomes unreachable, not on every retry of a long outage.
      if (err && !keysFailing) log.warn({ err: err.message }, 'key set refresh failed; retrying');
      else if (!err && keysFailing) log.info('key set loaded');
      keysFailing = err !== undefined;
    },
  });
  const verifier: Verifier = createVerifier({
    issuer: config.issuer,
    keys,
    algorithms: config.algorithms,
    clockToleranceSeconds: config.clockToleranceSeconds,
  });
  if (!skipChecks) {
    let lastFeedError = '';
    subscriber = createRevocationSubscriber({
      issuer: config.authorizationServerUrl,
      credentials: config.feed,
      onError: (err) => {
        // Logged once per distinct message so a long outage does not flood the log.
        if (err.message !== lastFeedError) log.warn({ err: err.message }, 'revocation feed problem');
        lastFeedError = err.message;
      },
    });
  }
  metrics = createProxyMetrics({
    defaults: opts.collectDefaultMetrics === true,
    feedLagSeconds: () => {
      const last = subscriber?.lastSyncAt();
      return last === undefined ? undefined : Math.max(0, (Date.now() - last) / 1000);
    },
  });

  const feedHealthy = () => skipChecks || (subscriber?.healthy(config.feedGraceSeconds) ?? false);
  const ready = () => skipChecks || (keys.loaded() && feedHealthy() && !fatal);

  // --- Routes ------------------------------------------------------------------------------------
  const routes = new Map<string, Route>();
  for (const rc of config.routes) {
    const resource = new URL(rc.resource);
    const upstream = new URL(rc.upstream);
    const path = resource.pathname;
    const metadataUrl = `${resource.origin}${WELL_KNOWN}${path === '/' ? '' : path}`;
    const scopes = [...new Set([rc.readScope, rc.writeScope, ...rc.authRequestScopes])];
    routes.set(path, {
      config: rc,
      path,
      metadataUrl,
      scopes,
      metadata: JSON.stringify({
        resource: rc.resource,
        authorization_servers: [config.issuer],
        scopes_supported: scopes,
        bearer_methods_supported: ['header'],
      }),
      policy: createToolPolicy(rc),
      // No connection cap: every open event stream holds a connection, and a cap would let
      // long-lived streams starve new calls. Idle connections are kept alive and reused.
      pool: new Pool(upstream.origin, { connections: null, keepAliveTimeout: 30_000 }),
      upstreamPath: upstream.pathname,
    });
  }
  const firstRoute = routes.values().next().value as Route;
  const rootRoute = routes.get('/') ?? firstRoute;
  const sessions: SessionBindings = createSessionBindings();

  // --- Authentication ----------------------------------------------------------------------------
  type AuthResult =
    | { ok: true; token: VerifiedToken }
    | { ok: false; outcome: Outcome; send: (res: ServerResponse) => void };

  const challenge = (route: Route, scope: string, error?: [string, string]) => {
    let h = `Bearer resource_metadata=${quote(route.metadataUrl)}, scope=${quote(scope)}`;
    if (error) h += `, error=${quote(error[0])}, error_description=${quote(error[1])}`;
    return h;
  };
  const refuse = (route: Route, outcome: Outcome, status: number, error?: [string, string]): AuthResult => ({
    ok: false,
    outcome,
    send: (res) => {
      const headers: Record<string, string> = {};
      if (status === 401 || status === 400)
        headers['www-authenticate'] = challenge(route, route.config.readScope, error);
      if (status === 503) headers['retry-after'] = '5';
      const message = error?.[1] ?? (status === 401 ? 'authorization required' : 'service unavailable');
      jsonRpcError(res, status, -32001, message, headers);
    },
  });
  const anonymous = (route: Route): VerifiedToken => ({
    sub: 'anonymous',
    clientId: 'anonymous',
    scope: route.scopes.join(' '),
    scopes: new Set(route.scopes),
    grantId: undefined,
    iat: 0,
    exp: Number.MAX_SAFE_INTEGER,
  });

  async function authenticate(route: Route, req: IncomingMessage, search: string): Promise<AuthResult> {
    if (skipChecks) return { ok: true, token: anonymous(route) };
    // RFC 6750 §2.3 query tokens leak into logs and history: refused outright (RFC 9700 §2.5).
    if (/(?:^|[?&])access_token=/i.test(search)) {
      return refuse(route, 'token_in_query', 400, [
        'invalid_request',
        'access tokens are accepted only in the Authorization header',
      ]);
    }
    const header = req.headers.authorization;
    if (header === undefined || !/^bearer(?: |$)/i.test(header)) return refuse(route, 'no_token', 401);
    const m = BEARER.exec(header);
    if (!m?.[1]) return refuse(route, 'invalid_token', 401, ['invalid_token', 'malformed bearer token']);
    let token: VerifiedToken;
    try {
      token = await verifier.verify(m[1], route.config.resource);
    } catch (err) {
      if (err instanceof KeysUnavailableError) return refuse(route, 'unavailable', 503);
      if (err instanceof InvalidTokenError) {
        return refuse(route, 'invalid_token', 401, ['invalid_token', 'the access token is invalid or expired']);
      }
      throw err;
    }
    // Fail closed: without the feed we cannot know whether this token's grant was revoked.
    if (!feedHealthy()) return refuse(route, 'unavailable', 503);
    if (subscriber?.isRevoked({ grant_id: token.grantId, sub: token.sub, client_id: token.clientId, iat: token.iat })) {
      return refuse(route, 'revoked', 401, ['invalid_token', 'the access token has been revoked']);
    }
    return { ok: true, token };
  }

  const insufficient = (res: ServerResponse, route: Route, token: VerifiedToken, needed: Iterable<string>) => {
    // All scopes needed, including those already held (the SDK asks for exactly what we name).
    const want = new Set([...route.scopes.filter((s) => token.scopes.has(s)), ...needed]);
    const header = `Bearer error="insufficient_scope", scope=${quote([...want].join(' '))}, resource_metadata=${quote(route.metadataUrl)}, error_description="the access token lacks a scope this call needs"`;
    jsonRpcError(res, 403, -32001, 'insufficient scope', { 'www-authenticate': header });
  };

  // --- Audit -------------------------------------------------------------------------------------
  interface Audit {
    requestId: string;
    route: Route;
    token: VerifiedToken | undefined;
    calls: Call[] | undefined;
    httpMethod: string;
    outcome: Outcome;
    upstreamStatus: number | undefined;
    latencyMs: number | undefined;
  }
  const audit = (a: Audit) => {
    metrics.decisions.inc({ outcome: a.outcome });
    const base = {
      audit: 'mcp_call',
      request_id: a.requestId,
      resource: a.route.config.resource,
      user: a.token?.sub,
      agent: a.token?.clientId,
      grant: a.token?.grantId,
      decision: a.outcome,
      upstream_status: a.upstreamStatus,
      latency_ms: a.latencyMs,
    };
    const calls = a.calls ?? [];
    if (calls.length === 0) {
      log.info({
        ...base,
        method: a.httpMethod === 'GET' ? 'stream' : a.httpMethod === 'DELETE' ? 'session/delete' : undefined,
      });
      return;
    }
    for (const c of calls) log.info({ ...base, method: c.method, tool: c.tool });
  };

  // --- Forwarding --------------------------------------------------------------------------------
  function upstreamHeaders(
    req: IncomingMessage,
    token: VerifiedToken,
    requestId: string,
  ): Record<string, string | string[]> {
    const names = config.identityHeaders;
    const out: Record<string, string | string[]> = {};
    // Headers the client named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    const hop = new Set(
      String(req.headers.connection ?? '')
        .toLowerCase()
        .split(',')
        .map((t) => t.trim()),
    );
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || DROP_REQUEST_HEADERS.has(name) || hop.has(name) || name.startsWith('x-mcp-')) continue;
      if (name === names.subject || name === names.clientId || name === names.scopes) continue;
      if (config.upstreamCredential && name === config.upstreamCredential.header) continue;
      out[name] = value;
    }
    out['x-request-id'] = requestId;
    out['accept-encoding'] = 'identity';
    if (config.upstreamCredential) {
      out[config.upstreamCredential.header] = config.upstreamCredential.value;
    } else {
      out[names.subject] = token.sub;
      out[names.clientId] = token.clientId;
      out[names.scopes] = token.scope;
    }
    return out;
  }

  async function forward(
    route: Route,
    req: IncomingMessage,
    res: ServerResponse,
    ctx: {
      token: VerifiedToken;
      body: Buffer | undefined;
      search: string;
      requestId: string;
      toolsListIds: (string | number)[];
      calls: Call[] | undefined;
    },
  ) {
    const method = req.method as 'GET' | 'POST' | 'DELETE';
    const sessionId = req.headers['mcp-session-id'];
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);
    const started = performance.now();
    const a: Audit = {
      requestId: ctx.requestId,
      route,
      token: ctx.token,
      calls: ctx.calls,
      httpMethod: method,
      outcome: 'allow',
      upstreamStatus: undefined,
      latencyMs: undefined,
    };
    let up: Awaited<ReturnType<Pool['request']>>;
    try {
      up = await route.pool.request({
        path: route.upstreamPath + ctx.search,
        method,
        headers: upstreamHeaders(req, ctx.token, ctx.requestId),
        body: ctx.body,
        signal: abort.signal,
        headersTimeout: config.upstreamHeadersTimeoutMs,
        // A GET is the server's long-lived event stream: idle is normal there.
        bodyTimeout: method === 'GET' ? 0 : config.upstreamBodyTimeoutMs,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      a.outcome = 'upstream_error';
      a.latencyMs = Math.round(performance.now() - started);
      if (!abort.signal.aborted) {
        log.warn({ request_id: ctx.requestId, err: code ?? (err as Error).message }, 'upstream request failed');
        const timeout = code === 'UND_ERR_HEADERS_TIMEOUT';
        jsonRpcError(res, timeout ? 504 : 502, -32603, timeout ? 'upstream timed out' : 'upstream unavailable');
      }
      audit(a);
      return;
    }
    const latency = performance.now() - started;
    a.upstreamStatus = up.statusCode;
    a.latencyMs = Math.round(latency * 1000) / 1000;
    metrics.upstreamLatency.observe({ route: route.path, status: String(up.statusCode) }, latency / 1000);
    res.once('close', () => audit(a));

    // Session binding: the session the upstream creates belongs to this token's user and agent.
    const newSession = up.headers['mcp-session-id'];
    if (typeof newSession === 'string' && up.statusCode < 300 && newSession !== sessionId) {
      sessions.bind(newSession, { sub: ctx.token.sub, clientId: ctx.token.clientId });
    }
    if (typeof sessionId === 'string' && (up.statusCode === 404 || (method === 'DELETE' && up.statusCode < 300))) {
      sessions.drop(sessionId);
    }

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (value === undefined || DROP_RESPONSE_HEADERS.has(name)) continue;
      headers[name] = value;
    }
    headers['x-request-id'] = ctx.requestId;
    const type = String(up.headers['content-type'] ?? '');
    const observe = ctx.toolsListIds.length > 0 && up.statusCode < 300;
    const ids = new Set(ctx.toolsListIds);
    const filterFor = route.config.hideUnauthorizedTools ? ctx.token.scopes : undefined;

    if (observe && type.startsWith('application/json')) {
      // One JSON message: read it (bounded), learn from it, and pass it on.
      let chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of up.body) {
          size += (chunk as Buffer).length;
          if (size > 16 * 1024 * 1024) throw new Error('upstream answer too large');
          chunks.push(chunk as Buffer);
        }
      } catch (err) {
        log.warn({ request_id: ctx.requestId, err: (err as Error).message }, 'upstream answer failed');
        jsonRpcError(res, 502, -32603, 'upstream answer failed');
        up.body.destroy();
        return;
      }
      const out = observeJsonBody(route.policy, Buffer.concat(chunks, size), ids, filterFor);
      chunks = [];
      delete headers['content-length'];
      headers['content-length'] = String(out.length);
      res.writeHead(up.statusCode, headers).end(out);
      return;
    }
    const sse = type.startsWith('text/event-stream');
    if (sse) {
      headers['x-accel-buffering'] = 'no'; // tell nginx in front not to buffer the stream
      headers['cache-control'] ??= 'no-cache';
    }
    res.writeHead(up.statusCode, headers);
    if (sse) res.flushHeaders();
    const done = (err: Error | null | undefined) => {
      if (err && !abort.signal.aborted)
        log.debug({ request_id: ctx.requestId, err: err.message }, 'stream ended early');
    };
    if (observe && sse) pipeline(up.body, sseObserver(route.policy, ids, filterFor), res, done);
    else pipeline(up.body, res, done);
  }

  // --- Request handling --------------------------------------------------------------------------
  async function handleMcp(route: Route, req: IncomingMessage, res: ServerResponse, search: string, requestId: string) {
    const method = req.method ?? '';
    const a: Audit = {
      requestId,
      route,
      token: undefined,
      calls: undefined,
      httpMethod: method,
      outcome: 'allow',
      upstreamStatus: undefined,
      latencyMs: undefined,
    };
    const deny = (outcome: Outcome, send: () => void) => {
      a.outcome = outcome;
      send();
      audit(a);
    };
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      deny('method_not_allowed', () =>
        jsonRpcError(res, 405, -32000, 'method not allowed', { allow: 'GET, POST, DELETE' }),
      );
      return;
    }
    const auth = await authenticate(route, req, search);
    if (!auth.ok) {
      deny(auth.outcome, () => auth.send(res));
      return;
    }
    const token = auth.token;
    a.token = token;

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const bound = sessions.check(sessionId, { sub: token.sub, clientId: token.clientId });
      if (bound === 'mismatch') {
        deny('session_mismatch', () => jsonRpcError(res, 403, -32001, 'this session belongs to another user or agent'));
        return;
      }
      if (bound === 'unknown') {
        // Never adopt a session the proxy did not see created: it might be someone else's.
        deny('session_unknown', () => jsonRpcError(res, 404, -32001, 'Session not found'));
        return;
      }
    }

    let body: Buffer | undefined;
    let toolsListIds: (string | number)[] = [];
    if (method === 'POST') {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > config.maxBodyBytes) {
        deny('too_large', () => jsonRpcError(res, 413, -32600, 'request body too large', { connection: 'close' }));
        return;
      }
      const ctype = String(req.headers['content-type'] ?? '').toLowerCase();
      if (!/^application\/json\s*(;|$)/.test(ctype)) {
        deny('unsupported_media_type', () => jsonRpcError(res, 415, -32600, 'Content-Type must be application/json'));
        return;
      }
      try {
        body = await readBody(req, config.maxBodyBytes);
      } catch {
        a.outcome = 'bad_request';
        audit(a);
        res.destroy();
        return;
      }
      if (body === undefined) {
        deny('too_large', () => jsonRpcError(res, 413, -32600, 'request body too large', { connection: 'close' }));
        return;
      }
      if (!skipChecks || route.config.learnReadOnlyHints || route.config.hideUnauthorizedTools) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          deny('bad_request', () => jsonRpcError(res, 400, -32700, 'Parse error'));
          return;
        }
        const cls = route.policy.classify(parsed);
        if (!cls.ok) {
          deny('bad_request', () => jsonRpcError(res, 400, cls.code, cls.message));
          return;
        }
        a.calls = cls.calls;
        toolsListIds = cls.toolsListIds;
        if (!skipChecks) {
          const needed = new Set(cls.calls.map((c) => c.needs));
          const missing = [...needed].filter((s) => !token.scopes.has(s));
          if (missing.length > 0) {
            deny('insufficient_scope', () => insufficient(res, route, token, needed));
            return;
          }
        }
      }
    } else if (!token.scopes.has(route.config.readScope)) {
      deny('insufficient_scope', () => insufficient(res, route, token, [route.config.readScope]));
      return;
    }
    await forward(route, req, res, { token, body, search, requestId, toolsListIds, calls: a.calls });
  }

  async function handleAuthRequest(req: IncomingMessage, res: ServerResponse, requestId: string) {
    // nginx `auth_request`: the original URI comes in X-Original-URI; the body is not available,
    // so the route's authRequestScopes (default read + write) are demanded instead of per-tool scopes.
    const original = req.headers['x-original-uri'];
    let route = firstRoute;
    let search = '';
    if (typeof original === 'string') {
      const u = URL.parse(original, 'http://x');
      const found = u ? routes.get(u.pathname) : undefined;
      if (!found || !u) {
        res.writeHead(403, { 'cache-control': 'no-store' }).end();
        return;
      }
      route = found;
      search = u.search;
    }
    const a: Audit = {
      requestId,
      route,
      token: undefined,
      calls: undefined,
      httpMethod: 'auth_request',
      outcome: 'allow',
      upstreamStatus: undefined,
      latencyMs: undefined,
    };
    const auth = await authenticate(route, req, search);
    if (!auth.ok) {
      a.outcome = auth.outcome;
      auth.send(res);
      audit(a);
      return;
    }
    const token = auth.token;
    a.token = token;
    const needed = route.config.authRequestScopes;
    if (needed.some((s) => !token.scopes.has(s))) {
      a.outcome = 'insufficient_scope';
      insufficient(res, route, token, needed);
      audit(a);
      return;
    }
    const names = config.identityHeaders;
    res
      .writeHead(204, {
        'cache-control': 'no-store',
        [names.subject]: token.sub,
        [names.clientId]: token.clientId,
        [names.scopes]: token.scope,
        'x-request-id': requestId,
      })
      .end();
    audit(a);
  }

  function handleMetadata(path: string, req: IncomingMessage, res: ServerResponse) {
    const rest = path.slice(WELL_KNOWN.length);
    const route = rest === '' || rest === '/' ? rootRoute : routes.get(rest);
    if (!route) {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    const cors = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': '*' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...cors });
    res.end(req.method === 'HEAD' ? undefined : route.metadata);
  }

  async function serveMetrics(res: ServerResponse) {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text);
  }

  function readiness(res: ServerResponse) {
    const checks = {
      keys: skipChecks || keys.loaded(),
      revocation_feed: feedHealthy(),
      issuer: !fatal,
    };
    const ok = Object.values(checks).every(Boolean);
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    // A client that goes away mid-request is not an error worth more than the aborted response.
    req.on('error', () => {});
    const raw = req.headers['x-request-id'];
    const requestId = typeof raw === 'string' && REQUEST_ID.test(raw) ? raw : randomUUID();
    res.setHeader('x-request-id', requestId);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const search = q < 0 ? '' : target.slice(q);
    const route = routes.get(path);
    res.once('finish', () =>
      metrics.requests.inc({ route: route?.path ?? 'other', method: req.method ?? '', status: String(res.statusCode) }),
    );
    if (route) {
      // Browser-based agents (MCP Inspector, web IDEs) call the MCP endpoint cross-origin. The
      // endpoint takes bearer tokens only, never cookies, so any origin may call it; it must be able
      // to read the challenge and the session id.
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-expose-headers', MCP_CORS_EXPOSE);
      if (req.method === 'OPTIONS') {
        res
          .writeHead(204, {
            'access-control-allow-methods': 'GET, POST, DELETE',
            'access-control-allow-headers': MCP_CORS_ALLOW,
            'access-control-max-age': '600',
          })
          .end();
        return;
      }
      return handleMcp(route, req, res, search, requestId);
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return readiness(res);
    if (path === WELL_KNOWN || path.startsWith(`${WELL_KNOWN}/`)) return handleMetadata(path, req, res);
    if (config.authRequestPath && path === config.authRequestPath) return handleAuthRequest(req, res, requestId);
    if (path === '/metrics' && config.metricsToken) {
      const m = BEARER.exec(req.headers.authorization ?? '');
      if (!m?.[1] || !sameSecret(m[1], config.metricsToken)) {
        return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="metrics"' });
      }
      return serveMetrics(res);
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  const server: Server = createServer({ requestTimeout: 120_000, headersTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'proxy request failed');
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'internal error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  let metricsServer: Server | undefined;

  const listen = (s: Server, port: number) =>
    new Promise<AddressInfo>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, config.host, () => {
        s.off('error', reject);
        resolve(s.address() as AddressInfo);
      });
    });

  const close = async () => {
    subscriber?.stop();
    keys.stop();
    const closing = [server, metricsServer]
      .filter((s): s is Server => s !== undefined)
      .map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      );
    await Promise.all(closing);
    await Promise.all([...routes.values()].map((r) => r.pool.destroy().catch(() => {})));
  };

  // --- Start -------------------------------------------------------------------------------------
  const addr = await listen(server, config.port);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log.info({ url, routes: config.routes.map((r) => r.resource), issuer: config.issuer }, 'resource proxy listening');
  let metricsUrl: string | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') serveMetrics(res).catch(() => res.destroy());
      else sendJson(res, 404, { error: 'not_found' });
    });
    // The metrics listener is always loopback: scrape it locally or through your own tunnel.
    const m = await new Promise<AddressInfo>((resolve, reject) => {
      metricsServer?.once('error', reject);
      metricsServer?.listen(config.metricsPort, '127.0.0.1', () => resolve(metricsServer?.address() as AddressInfo));
    });
    metricsUrl = `http://127.0.0.1:${m.port}/metrics`;
  }

  if (!skipChecks) {
    const init = (async () => {
      // The key set (and with it the AS metadata) first, then the feed's first full sync.
      for (let delay = 250; !(await keys.refresh()); delay = Math.min(delay * 2, 5000)) {
        if (fatal) throw fatal;
        await new Promise((r) => setTimeout(r, delay).unref());
      }
      await subscriber?.start();
    })();
    const wait = opts.startupWaitMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), wait);
      timer.unref();
    });
    try {
      const r = await Promise.race([init.then(() => 'ok' as const), timedOut]);
      if (r === 'timeout') log.warn('authorization server not reachable yet; answering 503 until it is');
      else log.info('key set loaded and revocation feed in sync: ready');
    } catch (err) {
      await close();
      if (err instanceof RevocationFeedError && err.status === 401) {
        throw new Error('the revocation feed refused the credential: check MCP_PROXY_FEED_CLIENT_ID/SECRET');
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    init.catch((err: unknown) => log.error({ err: (err as Error).message }, 'proxy could not start its checks'));
  }

  return { url, metricsUrl, ready, close };
}
