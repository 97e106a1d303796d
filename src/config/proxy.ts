// The resource proxy's settings: environment variables MCP_PROXY_* (declared once, in
// proxy_settings.ts), plus an optional JSON file (MCP_PROXY_CONFIG) listing routes. Secrets come
// only from the environment or *_FILE, never from the command line or the routes file. Every bad
// variable is named at once. This module imports no server code.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { isLoopbackHost } from '../lib/loopback.js';
import { deepFreeze, type Frozen } from './define.js';
import { type ProxySettings, proxySettings, routeSchema, routesFileSchema } from './proxy_settings.js';
import { ConfigError, type Env, Problems, readSettings, sentence, settingDefaults, settingLeaves } from './read.js';

/** The same class as the server's ConfigError: one kind of "fix your configuration" failure. */
export { ConfigError as ProxyConfigError };

export type RouteConfig = Frozen<z.output<typeof routeSchema> & { authRequestScopes: string[] }>;
export type ProxyConfig = Frozen<
  Omit<ProxySettings, 'authorizationServerUrl' | 'upstreamCredential' | 'routesFile' | 'route'> & {
    /** Where the proxy reaches the AS (metadata, JWKS, feed): MCP_PROXY_AUTHORIZATION_SERVER_URL or the issuer. */
    authorizationServerUrl: string;
    routes: RouteConfig[];
    upstreamCredential: { header: string; value: string } | undefined;
  }
>;
export type IdentityHeaderNames = ProxyConfig['identityHeaders'];

const RESERVED = ['/.well-known/', '/healthz', '/readyz', '/metrics'];

/** Paths the proxy answers itself; a route there would be shadowed. */
function isReserved(pathname: string): boolean {
  return RESERVED.some((p) => pathname === p || pathname.startsWith(p.endsWith('/') ? p : `${p}/`));
}

function httpUrl(value: string, what: string, problems: Problems, key = what): URL | undefined {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.add(key, `${what} must be an absolute http(s) URL`);
    return undefined;
  }
  if (url.hash || url.username || url.password || url.search) {
    problems.add(key, `${what} must not have a query, fragment or userinfo`);
    return undefined;
  }
  return url;
}

/** Names a route's fields in messages: the variables of the single route, or routes[i].field. */
type FieldName = (field: string) => string;
/** The single route's variables by route field, from the schema (`route` group). */
const SINGLE_ROUTE = new Map(
  settingLeaves(proxySettings)
    .filter((leaf) => leaf.path[0] === 'route')
    .map((leaf) => [leaf.path[1] ?? '', leaf.meta.env]),
);
const singleRouteName: FieldName = (field) => SINGLE_ROUTE.get(field) ?? 'MCP_PROXY_RESOURCE';
const fileRouteName =
  (prefix: string, i: number): FieldName =>
  (field) =>
    `${prefix}routes[${i}]${field ? `.${field}` : ''}`;

function buildRoute(raw: unknown, name: FieldName, problems: Problems): RouteConfig | undefined {
  const parsed = routeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = name(issue?.path.join('.') ?? '');
    problems.add(field, sentence(field, issue?.message));
    return undefined;
  }
  const r = parsed.data;
  const resource = httpUrl(r.resource, name('resource'), problems);
  const upstream = httpUrl(r.upstream, name('upstream'), problems);
  if (!resource || !upstream) return undefined;
  const bad = (field: string, message: string) => {
    problems.add(name(field), sentence(name(field), message));
    return undefined;
  };
  if (resource.protocol !== 'https:' && !isLoopbackHost(resource.hostname)) {
    return bad('resource', 'must be https unless it is a loopback address');
  }
  if (isReserved(resource.pathname)) return bad('resource', `path ${resource.pathname} is reserved by the proxy`);
  if (r.readScope === r.writeScope) return bad('writeScope', 'must differ from the read scope');
  return deepFreeze({ ...r, authRequestScopes: r.authRequestScopes ?? [r.readScope, r.writeScope] });
}

function readRoutesFile(file: string, problems: Problems): RouteConfig[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.add(
      'MCP_PROXY_CONFIG',
      `cannot read ${file} as JSON (${err instanceof SyntaxError ? 'invalid JSON' : 'unreadable'})`,
    );
    return undefined;
  }
  const parsed = routesFileSchema.safeParse(json);
  if (!parsed.success) {
    problems.add('MCP_PROXY_CONFIG', 'expected {"routes": [ ... ]} and nothing else');
    return undefined;
  }
  // Every route is checked, so one start lists every bad route.
  const routes = parsed.data.routes.map((r, i) => buildRoute(r, fileRouteName('MCP_PROXY_CONFIG ', i), problems));
  return routes.every((r) => r !== undefined) ? routes : undefined;
}

/** Reads MCP_PROXY_* (and the MCP_PROXY_CONFIG routes file); throws ConfigError naming every problem. */
export function loadProxyConfig(env: NodeJS.ProcessEnv | Env = process.env): ProxyConfig {
  const problems = new Problems();
  const v = readSettings(proxySettings, env, problems);

  problems.whenValid(['MCP_PROXY_HOST', 'MCP_PROXY_ALLOW_PUBLIC_BIND'], () => {
    if (!isLoopbackHost(v.host) && !v.allowPublicBind) {
      problems.add(
        'MCP_PROXY_HOST',
        `MCP_PROXY_HOST=${v.host} is not a loopback address; put a TLS-terminating reverse proxy in front and set MCP_PROXY_ALLOW_PUBLIC_BIND=true to bind it anyway`,
      );
    }
  });
  problems.whenValid(['MCP_PROXY_ISSUER'], () => {
    const issuer = httpUrl(v.issuer, 'MCP_PROXY_ISSUER', problems);
    if (issuer && issuer.protocol !== 'https:' && !isLoopbackHost(issuer.hostname)) {
      problems.add('MCP_PROXY_ISSUER', 'must be https unless it is a loopback address');
    }
  });
  if (v.authorizationServerUrl !== undefined) {
    httpUrl(v.authorizationServerUrl, 'MCP_PROXY_AUTHORIZATION_SERVER_URL', problems);
  }

  let routes: RouteConfig[] | undefined;
  const single = v.route;
  if (v.routesFile !== undefined) {
    if (single.resource !== undefined || single.upstream !== undefined) {
      problems.add(
        'MCP_PROXY_CONFIG',
        'MCP_PROXY_CONFIG and MCP_PROXY_RESOURCE/MCP_PROXY_UPSTREAM are both set; use one',
      );
    } else {
      routes = readRoutesFile(v.routesFile, problems);
    }
  } else if (single.resource === undefined || single.upstream === undefined) {
    problems.add(
      'MCP_PROXY_RESOURCE',
      'MCP_PROXY_RESOURCE and MCP_PROXY_UPSTREAM are required, or MCP_PROXY_CONFIG with a routes file',
    );
  } else {
    problems.whenValid([...SINGLE_ROUTE.values()], () => {
      const route = buildRoute(single, singleRouteName, problems);
      if (route) routes = [route];
    });
  }
  if (routes) {
    const paths = new Set<string>();
    for (const r of routes) {
      const p = new URL(r.resource).pathname;
      if (paths.has(p)) problems.add('MCP_PROXY_CONFIG', `two routes share the path ${p}`);
      if (v.authRequestPath === p) problems.add('MCP_PROXY_AUTH_REQUEST_PATH', 'collides with a route');
      paths.add(p);
    }
  }
  problems.throwIfAny();

  const { routesFile: _file, route: _route, upstreamCredential, ...rest } = v;
  return deepFreeze({
    ...rest,
    authorizationServerUrl: (v.authorizationServerUrl ?? v.issuer).replace(/\/+$/, ''),
    routes: routes ?? [],
    upstreamCredential:
      upstreamCredential.value === undefined
        ? undefined
        : { header: upstreamCredential.header, value: upstreamCredential.value },
  });
}

type RouteInput = Pick<RouteConfig, 'resource' | 'upstream'> & Partial<RouteConfig>;

/**
 * A config for a proxy started from code (tests, the benchmark): the declared defaults, except an
 * ephemeral port and JSON logs. Throws ConfigError for a bad route.
 */
export function proxyConfig(
  partial: Pick<ProxyConfig, 'issuer' | 'feed'> & { routes: RouteInput[] } & Partial<Omit<ProxyConfig, 'routes'>>,
): ProxyConfig {
  const problems = new Problems();
  const routes = partial.routes.map((r, i) => buildRoute({ ...r }, fileRouteName('', i), problems));
  problems.throwIfAny();
  const {
    routesFile: _file,
    route: _route,
    upstreamCredential: _credential,
    ...defaults
  } = settingDefaults(proxySettings);
  return {
    ...defaults,
    port: 0,
    logFormat: 'json',
    upstreamCredential: undefined,
    authorizationServerUrl: partial.authorizationServerUrl ?? partial.issuer.replace(/\/+$/, ''),
    ...partial,
    routes: routes.filter((r) => r !== undefined),
  };
}
