// The only module that reads the environment. Every setting is validated once, at start, and the
// result is frozen; an error names the variable and the problem.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';

export type RegistrationMode = 'open' | 'token' | 'off';

export interface Config {
  readonly issuer: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly trustProxy: boolean;
  readonly accessTokenTtl: number;
  readonly authorizationCodeTtl: number;
  readonly refreshTokenIdleTtl: number;
  readonly refreshTokenAbsoluteTtl: number;
  readonly sessionTtl: number;
  /** Seconds an account or admin page session may go unused before it ends (besides sessionTtl). */
  readonly consoleIdleTimeout: number;
  readonly registration: RegistrationMode;
  readonly registrationToken: string | undefined;
  readonly keyActivationDelay: number;
  readonly purgeInterval: number;
  /** Seconds a SIGTERM waits for requests in flight before cutting them (src/http/server.ts). */
  readonly shutdownTimeout: number;
  readonly auditRetention: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Seconds a rotated-out refresh token may still be presented by its client (0: never). */
  readonly refreshReuseGrace: number;
  readonly loginThrottle: LoginThrottleConfig;
  /** Requests per minute per client address on each endpoint group (0: no limit). */
  readonly rateLimits: RateLimitConfig;
  /** Bearer token that unlocks GET /metrics; metrics are not served without one (deny by default). */
  readonly metricsToken: string | undefined;
  /** OAuth Client ID Metadata Documents: agents whose client_id is an https URL (issue #5). */
  readonly clientMetadataDocuments: MetadataDocumentConfig;
  /** Registrations that never completed an authorization are deleted after this many seconds. */
  readonly unusedClientTtl: number;
  /** At most this many such unused registrations at once; further registrations are refused. */
  readonly maxUnusedClients: number;
  /** Open revocation streams one resource credential may hold at once (the server-wide cap stays). */
  readonly feedStreamsPerCredential: number;
}

export interface MetadataDocumentConfig {
  readonly enabled: boolean;
  /** Patterns (`example.com`, `*.example.com`); empty means every domain not denied. */
  readonly allowDomains: readonly string[];
  readonly denyDomains: readonly string[];
  /** Cache lifetime bounds in seconds; the document's Cache-Control max-age is clamped to them. */
  readonly cacheMin: number;
  readonly cacheMax: number;
  readonly maxBytes: number;
  /** Development and tests only: host names that may resolve to a loopback address. */
  readonly devLoopbackHosts: readonly string[];
  /** Development and tests only: a PEM file of extra CA certificates trusted for documents. */
  readonly devCaFile: string | undefined;
}

export interface LoginThrottleConfig {
  /** Failed sign-ins allowed for one username from one client address before back-off starts. */
  readonly perUserAndAddress: number;
  /**
   * Failed sign-ins allowed for one username over all addresses (distributed guessing). This block
   * does not apply at addresses where that user signed in successfully before.
   */
  readonly perUser: number;
  /** Failed sign-ins allowed per client address before back-off starts. */
  readonly perAddress: number;
  /** Seconds after the last failure when the count starts again from zero. */
  readonly window: number;
  /** Seconds of the first block; each further failure doubles it. */
  readonly firstBlock: number;
  /** The longest single block, in seconds: the back-off doubles up to it and never becomes a lockout. */
  readonly maxBlock: number;
}

export interface RateLimitConfig {
  readonly token: number;
  readonly registration: number;
  readonly introspection: number;
  readonly feed: number;
  readonly admin: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const PREFIX = 'MCP_OAUTH_';

function durationSchema(name: string, min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const seconds = parseDuration(raw);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `${PREFIX}${name} must be a duration like 300, 300s, 5m, 12h or 30d` });
      return z.NEVER;
    }
    if (seconds < min || seconds > max) {
      ctx.addIssue({ code: 'custom', message: `${PREFIX}${name} must be between ${min}s and ${max}s` });
      return z.NEVER;
    }
    return seconds;
  });
}

const DAY = 86400;

function countSchema(name: string, min: number, max: number) {
  const message = `${PREFIX}${name} must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,9}$/, message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message);
}

/** Comma-separated host names or `*.`-prefixed patterns. */
function domainListSchema(name: string) {
  const message = `${PREFIX}${name} must be a comma-separated list of host names or *.domain patterns`;
  return z.string().transform((raw, ctx) => {
    const list = raw
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter((d) => d !== '');
    if (list.some((d) => !/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d))) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return list;
  });
}

const schema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'MCP_OAUTH_PORT must be a port number from 1 to 65535')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65535, 'MCP_OAUTH_PORT must be a port number from 1 to 65535')
    .default(4000),
  ISSUER: z.string().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  TRUST_PROXY: z.enum(['true', 'false', '1', '0']).default('false'),
  ACCESS_TOKEN_TTL: durationSchema('ACCESS_TOKEN_TTL', 30, DAY).default(300),
  AUTHORIZATION_CODE_TTL: durationSchema('AUTHORIZATION_CODE_TTL', 10, 600).default(60),
  REFRESH_TOKEN_IDLE_TTL: durationSchema('REFRESH_TOKEN_IDLE_TTL', 60, 365 * DAY).default(14 * DAY),
  REFRESH_TOKEN_ABSOLUTE_TTL: durationSchema('REFRESH_TOKEN_ABSOLUTE_TTL', 60, 3 * 365 * DAY).default(90 * DAY),
  SESSION_TTL: durationSchema('SESSION_TTL', 60, 30 * DAY).default(DAY),
  CONSOLE_IDLE_TIMEOUT: durationSchema('CONSOLE_IDLE_TIMEOUT', 60, DAY).default(1800),
  REGISTRATION: z.enum(['open', 'token', 'off']).default('open'),
  KEY_ACTIVATION_DELAY: durationSchema('KEY_ACTIVATION_DELAY', 0, 30 * DAY).default(900),
  PURGE_INTERVAL: durationSchema('PURGE_INTERVAL', 10, DAY).default(3600),
  SHUTDOWN_TIMEOUT: durationSchema('SHUTDOWN_TIMEOUT', 0, 600).default(8),
  AUDIT_RETENTION: durationSchema('AUDIT_RETENTION', DAY, 3650 * DAY).default(90 * DAY),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
  REFRESH_REUSE_GRACE: durationSchema('REFRESH_REUSE_GRACE', 0, 300).default(10),
  LOGIN_FAILURES_PER_USER_AND_ADDRESS: countSchema('LOGIN_FAILURES_PER_USER_AND_ADDRESS', 1, 1000).default(5),
  LOGIN_FAILURES_PER_USER: countSchema('LOGIN_FAILURES_PER_USER', 1, 100000).default(20),
  LOGIN_FAILURES_PER_ADDRESS: countSchema('LOGIN_FAILURES_PER_ADDRESS', 1, 100000).default(50),
  LOGIN_FAILURE_WINDOW: durationSchema('LOGIN_FAILURE_WINDOW', 60, DAY).default(900),
  LOGIN_FIRST_BLOCK: durationSchema('LOGIN_FIRST_BLOCK', 1, 3600).default(1),
  LOGIN_MAX_BLOCK: durationSchema('LOGIN_MAX_BLOCK', 1, DAY).default(900),
  RATE_LIMIT_TOKEN: countSchema('RATE_LIMIT_TOKEN', 0, 1_000_000).default(1200),
  RATE_LIMIT_REGISTRATION: countSchema('RATE_LIMIT_REGISTRATION', 0, 1_000_000).default(120),
  RATE_LIMIT_INTROSPECTION: countSchema('RATE_LIMIT_INTROSPECTION', 0, 1_000_000).default(3000),
  RATE_LIMIT_FEED: countSchema('RATE_LIMIT_FEED', 0, 1_000_000).default(600),
  RATE_LIMIT_ADMIN: countSchema('RATE_LIMIT_ADMIN', 0, 1_000_000).default(600),
  CIMD: z.enum(['on', 'off']).default('on'),
  CIMD_ALLOW_DOMAINS: domainListSchema('CIMD_ALLOW_DOMAINS').default([]),
  CIMD_DENY_DOMAINS: domainListSchema('CIMD_DENY_DOMAINS').default([]),
  CIMD_CACHE_MIN: durationSchema('CIMD_CACHE_MIN', 0, DAY).default(300),
  CIMD_CACHE_MAX: durationSchema('CIMD_CACHE_MAX', 60, 7 * DAY).default(DAY),
  CIMD_MAX_BYTES: countSchema('CIMD_MAX_BYTES', 1024, 65536).default(5120),
  CIMD_DEV_LOOPBACK_HOSTS: domainListSchema('CIMD_DEV_LOOPBACK_HOSTS').default([]),
  CIMD_DEV_CA_FILE: z.string().optional(),
  UNUSED_CLIENT_TTL: durationSchema('UNUSED_CLIENT_TTL', 60, 365 * DAY).default(DAY),
  MAX_UNUSED_CLIENTS: countSchema('MAX_UNUSED_CLIENTS', 1, 1_000_000).default(1000),
  FEED_STREAMS_PER_CREDENTIAL: countSchema('FEED_STREAMS_PER_CREDENTIAL', 1, 100).default(4),
});

const SECRETS = ['REGISTRATION_TOKEN', 'METRICS_TOKEN'] as const;

function readSecret(env: Env, name: (typeof SECRETS)[number]): string | undefined {
  const direct = env[PREFIX + name];
  const file = env[`${PREFIX}${name}_FILE`];
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError(`${PREFIX}${name} and ${PREFIX}${name}_FILE are both set; set only one`);
  }
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      throw new ConfigError(`${PREFIX}${name}_FILE: cannot read the file it names`);
    }
  }
  return direct;
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

export function loadConfig(env: Env = process.env): Config {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(PREFIX) && value !== undefined && value !== '') input[key.slice(PREFIX.length)] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0];
    const message = issue?.message ?? 'invalid';
    throw new ConfigError(message.startsWith(PREFIX) ? message : `${PREFIX}${String(key)}: ${message}`);
  }
  const v = parsed.data;
  const trustProxy = v.TRUST_PROXY === 'true' || v.TRUST_PROXY === '1';
  const hostForUrl = isIP(v.HOST) === 6 ? `[${v.HOST}]` : v.HOST;
  const issuer = v.ISSUER ?? `http://${hostForUrl}:${v.PORT}`;
  const issuerUrl = URL.parse(issuer);
  if (!issuerUrl || (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:')) {
    throw new ConfigError(`${PREFIX}ISSUER must be an absolute http(s) URL`);
  }
  if (issuerUrl.search || issuerUrl.hash || issuerUrl.username || issuerUrl.password) {
    throw new ConfigError(`${PREFIX}ISSUER must not have a query, fragment or userinfo (RFC 8414 §2)`);
  }
  if (issuer.endsWith('/')) throw new ConfigError(`${PREFIX}ISSUER must not end with a slash`);
  if (!trustProxy) {
    if (!isLoopbackHost(v.HOST)) {
      throw new ConfigError(
        `${PREFIX}HOST=${v.HOST} is not a loopback address; serve on a public interface only behind a TLS-terminating reverse proxy and set ${PREFIX}TRUST_PROXY=true`,
      );
    }
    if (issuerUrl.protocol !== 'https:' && !isLoopbackHost(issuerUrl.hostname.replace(/^\[|\]$/g, ''))) {
      throw new ConfigError(
        `${PREFIX}ISSUER must be https unless it is a loopback address (or set ${PREFIX}TRUST_PROXY=true behind a TLS-terminating proxy)`,
      );
    }
    // This server speaks plain HTTP only: an https issuer means a TLS-terminating proxy in front,
    // whose X-Forwarded-Proto must be trusted, or the Secure cookies could never be set.
    if (issuerUrl.protocol === 'https:') {
      throw new ConfigError(
        `${PREFIX}ISSUER is https, but this server speaks plain HTTP: put it behind a TLS-terminating reverse proxy and set ${PREFIX}TRUST_PROXY=true`,
      );
    }
  } else if (issuerUrl.protocol !== 'https:') {
    throw new ConfigError(`${PREFIX}ISSUER must be https when ${PREFIX}TRUST_PROXY=true`);
  }
  const registrationToken = readSecret(env, 'REGISTRATION_TOKEN');
  // In token mode, registration needs an initial access token: one made with `mcp-oauth clients
  // token`, or this optional fixed one.
  if (registrationToken !== undefined && registrationToken.length < 32) {
    throw new ConfigError(
      `${PREFIX}REGISTRATION_TOKEN (or ${PREFIX}REGISTRATION_TOKEN_FILE) must be at least 32 characters`,
    );
  }
  // Loopback document hosts and extra CAs exist for development and tests: never behind a proxy
  // or with a public issuer, where they would reopen the SSRF guard.
  if (
    (v.CIMD_DEV_LOOPBACK_HOSTS.length > 0 || v.CIMD_DEV_CA_FILE) &&
    (trustProxy || !isLoopbackHost(issuerUrl.hostname.replace(/^\[|\]$/g, '')))
  ) {
    throw new ConfigError(
      `${PREFIX}CIMD_DEV_LOOPBACK_HOSTS and ${PREFIX}CIMD_DEV_CA_FILE are for development only: not with ${PREFIX}TRUST_PROXY or a non-loopback issuer`,
    );
  }
  if (v.CIMD_CACHE_MIN > v.CIMD_CACHE_MAX) {
    throw new ConfigError(`${PREFIX}CIMD_CACHE_MIN must not exceed ${PREFIX}CIMD_CACHE_MAX`);
  }
  if (v.CIMD_DEV_CA_FILE) {
    try {
      readFileSync(v.CIMD_DEV_CA_FILE, 'utf8');
    } catch {
      throw new ConfigError(`${PREFIX}CIMD_DEV_CA_FILE: cannot read the file it names`);
    }
  }
  if (v.REFRESH_TOKEN_IDLE_TTL > v.REFRESH_TOKEN_ABSOLUTE_TTL) {
    throw new ConfigError(`${PREFIX}REFRESH_TOKEN_IDLE_TTL must not exceed ${PREFIX}REFRESH_TOKEN_ABSOLUTE_TTL`);
  }
  const metricsToken = readSecret(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 32) {
    throw new ConfigError(
      `${PREFIX}METRICS_TOKEN (or ${PREFIX}METRICS_TOKEN_FILE) must be at least 32 characters, e.g. from: openssl rand -hex 32`,
    );
  }
  const dataDir = path.resolve(v.DATA_DIR);
  return Object.freeze({
    issuer,
    host: v.HOST,
    port: v.PORT,
    dataDir,
    databaseFile: path.join(dataDir, 'mcp-oauth.sqlite'),
    trustProxy,
    accessTokenTtl: v.ACCESS_TOKEN_TTL,
    authorizationCodeTtl: v.AUTHORIZATION_CODE_TTL,
    refreshTokenIdleTtl: v.REFRESH_TOKEN_IDLE_TTL,
    refreshTokenAbsoluteTtl: v.REFRESH_TOKEN_ABSOLUTE_TTL,
    sessionTtl: v.SESSION_TTL,
    consoleIdleTimeout: v.CONSOLE_IDLE_TIMEOUT,
    registration: v.REGISTRATION,
    registrationToken,
    keyActivationDelay: v.KEY_ACTIVATION_DELAY,
    purgeInterval: v.PURGE_INTERVAL,
    shutdownTimeout: v.SHUTDOWN_TIMEOUT,
    auditRetention: v.AUDIT_RETENTION,
    logLevel: v.LOG_LEVEL,
    refreshReuseGrace: v.REFRESH_REUSE_GRACE,
    loginThrottle: Object.freeze({
      perUserAndAddress: v.LOGIN_FAILURES_PER_USER_AND_ADDRESS,
      perUser: v.LOGIN_FAILURES_PER_USER,
      perAddress: v.LOGIN_FAILURES_PER_ADDRESS,
      window: v.LOGIN_FAILURE_WINDOW,
      firstBlock: Math.min(v.LOGIN_FIRST_BLOCK, v.LOGIN_MAX_BLOCK),
      maxBlock: v.LOGIN_MAX_BLOCK,
    }),
    rateLimits: Object.freeze({
      token: v.RATE_LIMIT_TOKEN,
      registration: v.RATE_LIMIT_REGISTRATION,
      introspection: v.RATE_LIMIT_INTROSPECTION,
      feed: v.RATE_LIMIT_FEED,
      admin: v.RATE_LIMIT_ADMIN,
    }),
    metricsToken,
    clientMetadataDocuments: Object.freeze({
      enabled: v.CIMD === 'on',
      allowDomains: Object.freeze(v.CIMD_ALLOW_DOMAINS),
      denyDomains: Object.freeze(v.CIMD_DENY_DOMAINS),
      cacheMin: v.CIMD_CACHE_MIN,
      cacheMax: v.CIMD_CACHE_MAX,
      maxBytes: v.CIMD_MAX_BYTES,
      devLoopbackHosts: Object.freeze(v.CIMD_DEV_LOOPBACK_HOSTS),
      devCaFile: v.CIMD_DEV_CA_FILE,
    }),
    unusedClientTtl: v.UNUSED_CLIENT_TTL,
    maxUnusedClients: v.MAX_UNUSED_CLIENTS,
    feedStreamsPerCredential: v.FEED_STREAMS_PER_CREDENTIAL,
  });
}
