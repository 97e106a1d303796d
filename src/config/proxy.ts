// The resource proxy's settings: environment variables MCP_PROXY_* (validated with zod), plus an
// optional JSON file (MCP_PROXY_CONFIG) listing routes. Secrets come only from the environment or
// *_FILE, never from the command line or the routes file. This module imports no server code.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

export class ProxyConfigError extends Error {
  override name = 'ConfigError';
}

export interface RouteConfig {
  /** Public resource URI, exactly as the AS knows it: the `aud` this route accepts. */
  readonly resource: string;
  /** Upstream Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp */
  readonly upstream: string;
  readonly readScope: string;
  readonly writeScope: string;
  /** Tools that need only the read scope, whatever the upstream says. */
  readonly readOnlyTools: readonly string[];
  /** Tools that need the write scope, whatever the upstream says. */
  readonly writeTools: readonly string[];
  /** Learn `readOnlyHint` from the upstream's tools/list answers (default true). */
  readonly learnReadOnlyHints: boolean;
  /** Drop the tools a token cannot call from tools/list answers. */
  readonly hideUnauthorizedTools: boolean;
  /** Scopes the nginx auth_request endpoint demands (it cannot see the body): default read + write. */
  readonly authRequestScopes: readonly string[];
}

export interface IdentityHeaderNames {
  readonly subject: string;
  readonly clientId: string;
  readonly scopes: string;
}

export interface ProxyConfig {
  readonly host: string;
  readonly port: number;
  readonly allowPublicBind: boolean;
  /** The authorization server's issuer, exactly as its metadata states it. */
  readonly issuer: string;
  /**
   * Where the proxy itself reaches the AS when that differs from the public issuer (a container
   * network): metadata, JWKS and the revocation feed are fetched there. Default: the issuer.
   */
  readonly authorizationServerUrl: string;
  /** Resource credential for the revocation feed (`mcp-oauth resources credential URI`). */
  readonly feed: { readonly id: string; readonly secret: string };
  readonly routes: readonly RouteConfig[];
  readonly algorithms: readonly string[];
  /** Seconds of clock skew tolerated on exp/iat/nbf. */
  readonly clockToleranceSeconds: number;
  /** The AS's access-token lifetime: a feed silent for longer than this makes the proxy fail closed. */
  readonly feedGraceSeconds: number;
  readonly maxBodyBytes: number;
  readonly upstreamHeadersTimeoutMs: number;
  readonly upstreamBodyTimeoutMs: number;
  readonly identityHeaders: IdentityHeaderNames;
  /** A static credential attached to upstream requests instead of the identity headers. */
  readonly upstreamCredential: { readonly header: string; readonly value: string } | undefined;
  /** nginx auth_request endpoint path, or undefined when disabled. */
  readonly authRequestPath: string | undefined;
  /** Bearer token that unlocks /metrics on the public listener. */
  readonly metricsToken: string | undefined;
  /** A separate loopback listener for /metrics (no token needed there). */
  readonly metricsPort: number | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `auto`: readable text on a terminal, JSON lines otherwise. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
}

type Env = Record<string, string | undefined>;
const PREFIX = 'MCP_PROXY_';
const ALLOWED_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];
const RESERVED = ['/.well-known/', '/healthz', '/readyz', '/metrics'];

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${PREFIX}${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${PREFIX}${name} must be between ${min} and ${max}`);
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
  .transform((s) => s.toLowerCase());
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'must be one scope token');

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int('PORT', 0, 65535).default(8080),
  ALLOW_PUBLIC_BIND: bool.default(false),
  ISSUER: z.string({ error: `${PREFIX}ISSUER is required: the authorization server's issuer URL` }).min(1),
  AUTHORIZATION_SERVER_URL: z.string().min(1).optional(),
  ALGORITHMS: z
    .string()
    .transform((s) => s.split(/[\s,]+/).filter(Boolean))
    .refine((a) => a.length > 0 && a.every((x) => ALLOWED_ALGS.includes(x)), {
      message: `${PREFIX}ALGORITHMS may list only ${ALLOWED_ALGS.join(', ')}`,
    })
    .default(['ES256']),
  CLOCK_TOLERANCE: int('CLOCK_TOLERANCE', 0, 300).default(5),
  FEED_GRACE: int('FEED_GRACE', 5, 86400).default(300),
  MAX_BODY_BYTES: int('MAX_BODY_BYTES', 1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  UPSTREAM_HEADERS_TIMEOUT: int('UPSTREAM_HEADERS_TIMEOUT', 1, 3600).default(120),
  UPSTREAM_BODY_TIMEOUT: int('UPSTREAM_BODY_TIMEOUT', 1, 86400).default(300),
  SUBJECT_HEADER: headerName.default('x-mcp-subject'),
  CLIENT_ID_HEADER: headerName.default('x-mcp-client-id'),
  SCOPES_HEADER: headerName.default('x-mcp-scopes'),
  UPSTREAM_CREDENTIAL_HEADER: headerName.default('authorization'),
  AUTH_REQUEST_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9._~/-]{1,200}$/, `${PREFIX}AUTH_REQUEST_PATH must be a path`)
    .optional(),
  METRICS_PORT: int('METRICS_PORT', 1, 65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  CONFIG: z.string().min(1).optional(),
  // Single-route form (when MCP_PROXY_CONFIG is not set).
  RESOURCE: z.string().optional(),
  UPSTREAM: z.string().optional(),
  READ_SCOPE: scopeToken.optional(),
  WRITE_SCOPE: scopeToken.optional(),
  READ_ONLY_TOOLS: z.string().optional(),
  WRITE_TOOLS: z.string().optional(),
  LEARN_READ_ONLY_HINTS: bool.optional(),
  HIDE_UNAUTHORIZED_TOOLS: bool.optional(),
});

const routeSchema = z
  .object({
    resource: z.string().min(1),
    upstream: z.string().min(1),
    readScope: scopeToken.default('mcp:read'),
    writeScope: scopeToken.default('mcp:write'),
    readOnlyTools: z.array(z.string().min(1).max(200)).default([]),
    writeTools: z.array(z.string().min(1).max(200)).default([]),
    learnReadOnlyHints: z.boolean().default(true),
    hideUnauthorizedTools: z.boolean().default(false),
    authRequestScopes: z.array(scopeToken).optional(),
  })
  .strict();

const fileSchema = z.object({ routes: z.array(z.unknown()).min(1) }).strict();

function readSecret(env: Env, name: string): string | undefined {
  const direct = env[`${PREFIX}${name}`];
  const file = env[`${PREFIX}${name}_FILE`];
  if (direct && file)
    throw new ProxyConfigError(`${PREFIX}${name} and ${PREFIX}${name}_FILE are both set; set only one`);
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      throw new ProxyConfigError(`${PREFIX}${name}_FILE: cannot read the file it names`);
    }
  }
  return direct || undefined;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

function httpUrl(value: string, what: string): URL {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ProxyConfigError(`${what} must be an absolute http(s) URL`);
  }
  if (url.hash || url.username || url.password || url.search) {
    throw new ProxyConfigError(`${what} must not have a query, fragment or userinfo`);
  }
  return url;
}

const list = (s: string | undefined) => (s ?? '').split(/[\s,]+/).filter(Boolean);

function buildRoute(raw: unknown, where: string): RouteConfig {
  const parsed = routeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProxyConfigError(`${where}: ${issue?.path.join('.') || 'route'} ${issue?.message ?? 'is invalid'}`);
  }
  const r = parsed.data;
  const resource = httpUrl(r.resource, `${where}.resource`);
  httpUrl(r.upstream, `${where}.upstream`);
  if (resource.protocol !== 'https:' && !isLoopbackHost(resource.hostname)) {
    throw new ProxyConfigError(`${where}.resource must be https unless it is a loopback address`);
  }
  if (RESERVED.some((p) => resource.pathname === p || resource.pathname.startsWith(p.endsWith('/') ? p : `${p}/`))) {
    throw new ProxyConfigError(`${where}.resource path ${resource.pathname} is reserved by the proxy`);
  }
  if (r.readScope === r.writeScope) throw new ProxyConfigError(`${where}: readScope and writeScope must differ`);
  return Object.freeze({
    resource: r.resource,
    upstream: r.upstream,
    readScope: r.readScope,
    writeScope: r.writeScope,
    readOnlyTools: Object.freeze([...r.readOnlyTools]),
    writeTools: Object.freeze([...r.writeTools]),
    learnReadOnlyHints: r.learnReadOnlyHints,
    hideUnauthorizedTools: r.hideUnauthorizedTools,
    authRequestScopes: Object.freeze([...(r.authRequestScopes ?? [r.readScope, r.writeScope])]),
  });
}

/** Reads MCP_PROXY_* (and the MCP_PROXY_CONFIG routes file); throws ProxyConfigError naming the problem. */
export function loadProxyConfig(env: NodeJS.ProcessEnv | Env = process.env): ProxyConfig {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(PREFIX) && value !== undefined && value !== '') input[key.slice(PREFIX.length)] = value;
  }
  // Secrets are read separately and never pass through the schema's error messages.
  for (const secret of ['FEED_CLIENT_SECRET', 'UPSTREAM_CREDENTIAL', 'METRICS_TOKEN']) {
    delete input[secret];
    delete input[`${secret}_FILE`];
  }
  delete input.FEED_CLIENT_ID;
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0];
    const message = issue?.message ?? 'is invalid';
    throw new ProxyConfigError(
      key === undefined || message.startsWith(PREFIX) ? message : `${PREFIX}${String(key)}: ${message}`,
    );
  }
  const v = parsed.data;
  if (!isLoopbackHost(v.HOST) && !v.ALLOW_PUBLIC_BIND) {
    throw new ProxyConfigError(
      `${PREFIX}HOST=${v.HOST} is not a loopback address; put a TLS-terminating reverse proxy in front and set ${PREFIX}ALLOW_PUBLIC_BIND=true to bind it anyway`,
    );
  }
  const issuerUrl = httpUrl(v.ISSUER, `${PREFIX}ISSUER`);
  if (issuerUrl.protocol !== 'https:' && !isLoopbackHost(issuerUrl.hostname)) {
    throw new ProxyConfigError(`${PREFIX}ISSUER must be https unless it is a loopback address`);
  }

  const asUrl = v.AUTHORIZATION_SERVER_URL ?? v.ISSUER;
  if (v.AUTHORIZATION_SERVER_URL) httpUrl(v.AUTHORIZATION_SERVER_URL, `${PREFIX}AUTHORIZATION_SERVER_URL`);

  const feedId = env[`${PREFIX}FEED_CLIENT_ID`];
  const feedSecret = readSecret(env, 'FEED_CLIENT_SECRET');
  if (!feedId || !feedSecret) {
    throw new ProxyConfigError(
      `${PREFIX}FEED_CLIENT_ID and ${PREFIX}FEED_CLIENT_SECRET (or _FILE) are required: create them with \`mcp-oauth resources credential URI\``,
    );
  }

  let routes: RouteConfig[];
  if (v.CONFIG) {
    if (v.RESOURCE || v.UPSTREAM) {
      throw new ProxyConfigError(`${PREFIX}CONFIG and ${PREFIX}RESOURCE/${PREFIX}UPSTREAM are both set; use one`);
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(v.CONFIG, 'utf8'));
    } catch (err) {
      throw new ProxyConfigError(
        `${PREFIX}CONFIG: cannot read ${v.CONFIG} as JSON (${err instanceof SyntaxError ? 'invalid JSON' : 'unreadable'})`,
      );
    }
    const file = fileSchema.safeParse(json);
    if (!file.success) throw new ProxyConfigError(`${PREFIX}CONFIG: expected {"routes": [ ... ]} and nothing else`);
    routes = file.data.routes.map((r, i) => buildRoute(r, `routes[${i}]`));
  } else {
    if (!v.RESOURCE || !v.UPSTREAM) {
      throw new ProxyConfigError(`set ${PREFIX}RESOURCE and ${PREFIX}UPSTREAM, or ${PREFIX}CONFIG with a routes file`);
    }
    routes = [
      buildRoute(
        {
          resource: v.RESOURCE,
          upstream: v.UPSTREAM,
          readScope: v.READ_SCOPE,
          writeScope: v.WRITE_SCOPE,
          readOnlyTools: list(v.READ_ONLY_TOOLS),
          writeTools: list(v.WRITE_TOOLS),
          learnReadOnlyHints: v.LEARN_READ_ONLY_HINTS,
          hideUnauthorizedTools: v.HIDE_UNAUTHORIZED_TOOLS,
        },
        PREFIX.slice(0, -1),
      ),
    ];
  }
  const paths = new Set<string>();
  for (const r of routes) {
    const p = new URL(r.resource).pathname;
    if (paths.has(p)) throw new ProxyConfigError(`two routes share the path ${p}`);
    if (v.AUTH_REQUEST_PATH === p) throw new ProxyConfigError(`${PREFIX}AUTH_REQUEST_PATH collides with a route`);
    paths.add(p);
  }

  const credential = readSecret(env, 'UPSTREAM_CREDENTIAL');
  const metricsToken = readSecret(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ProxyConfigError(`${PREFIX}METRICS_TOKEN must be at least 16 characters`);
  }
  return Object.freeze({
    host: v.HOST,
    port: v.PORT,
    allowPublicBind: v.ALLOW_PUBLIC_BIND,
    issuer: v.ISSUER,
    authorizationServerUrl: asUrl.replace(/\/+$/, ''),
    feed: Object.freeze({ id: feedId, secret: feedSecret }),
    routes: Object.freeze(routes),
    algorithms: Object.freeze(v.ALGORITHMS),
    clockToleranceSeconds: v.CLOCK_TOLERANCE,
    feedGraceSeconds: v.FEED_GRACE,
    maxBodyBytes: v.MAX_BODY_BYTES,
    upstreamHeadersTimeoutMs: v.UPSTREAM_HEADERS_TIMEOUT * 1000,
    upstreamBodyTimeoutMs: v.UPSTREAM_BODY_TIMEOUT * 1000,
    identityHeaders: Object.freeze({
      subject: v.SUBJECT_HEADER,
      clientId: v.CLIENT_ID_HEADER,
      scopes: v.SCOPES_HEADER,
    }),
    upstreamCredential: credential
      ? Object.freeze({ header: v.UPSTREAM_CREDENTIAL_HEADER, value: credential })
      : undefined,
    authRequestPath: v.AUTH_REQUEST_PATH,
    metricsToken,
    metricsPort: v.METRICS_PORT,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
  });
}

/** Fills defaults for a programmatic config (tests, the benchmark). */
export function proxyConfig(
  partial: Pick<ProxyConfig, 'issuer' | 'feed'> & {
    routes: (Pick<RouteConfig, 'resource' | 'upstream'> & Partial<RouteConfig>)[];
  } & Partial<Omit<ProxyConfig, 'routes'>>,
): ProxyConfig {
  const routes = partial.routes.map((r, i) =>
    buildRoute(
      {
        resource: r.resource,
        upstream: r.upstream,
        readScope: r.readScope,
        writeScope: r.writeScope,
        readOnlyTools: r.readOnlyTools ? [...r.readOnlyTools] : undefined,
        writeTools: r.writeTools ? [...r.writeTools] : undefined,
        learnReadOnlyHints: r.learnReadOnlyHints,
        hideUnauthorizedTools: r.hideUnauthorizedTools,
        authRequestScopes: r.authRequestScopes ? [...r.authRequestScopes] : undefined,
      },
      `routes[${i}]`,
    ),
  );
  return {
    host: '127.0.0.1',
    port: 0,
    allowPublicBind: false,
    algorithms: ['ES256'],
    clockToleranceSeconds: 5,
    feedGraceSeconds: 300,
    maxBodyBytes: 4 * 1024 * 1024,
    upstreamHeadersTimeoutMs: 120_000,
    upstreamBodyTimeoutMs: 300_000,
    identityHeaders: { subject: 'x-mcp-subject', clientId: 'x-mcp-client-id', scopes: 'x-mcp-scopes' },
    upstreamCredential: undefined,
    authRequestPath: undefined,
    metricsToken: undefined,
    metricsPort: undefined,
    logLevel: 'info',
    logFormat: 'json',
    authorizationServerUrl: partial.authorizationServerUrl ?? partial.issuer.replace(/\/+$/, ''),
    ...partial,
    routes,
  };
}
