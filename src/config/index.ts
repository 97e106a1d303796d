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
  readonly registration: RegistrationMode;
  readonly registrationToken: string | undefined;
  readonly keyActivationDelay: number;
  readonly purgeInterval: number;
  readonly auditRetention: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
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
  REGISTRATION: z.enum(['open', 'token', 'off']).default('open'),
  KEY_ACTIVATION_DELAY: durationSchema('KEY_ACTIVATION_DELAY', 0, 30 * DAY).default(900),
  PURGE_INTERVAL: durationSchema('PURGE_INTERVAL', 10, DAY).default(3600),
  AUDIT_RETENTION: durationSchema('AUDIT_RETENTION', DAY, 3650 * DAY).default(90 * DAY),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
});

const SECRETS = ['REGISTRATION_TOKEN'] as const;

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
  } else if (issuerUrl.protocol !== 'https:') {
    throw new ConfigError(`${PREFIX}ISSUER must be https when ${PREFIX}TRUST_PROXY=true`);
  }
  const registrationToken = readSecret(env, 'REGISTRATION_TOKEN');
  if (v.REGISTRATION === 'token' && (!registrationToken || registrationToken.length < 32)) {
    throw new ConfigError(
      `${PREFIX}REGISTRATION=token needs ${PREFIX}REGISTRATION_TOKEN (or ${PREFIX}REGISTRATION_TOKEN_FILE) of at least 32 characters`,
    );
  }
  if (v.REFRESH_TOKEN_IDLE_TTL > v.REFRESH_TOKEN_ABSOLUTE_TTL) {
    throw new ConfigError(`${PREFIX}REFRESH_TOKEN_IDLE_TTL must not exceed ${PREFIX}REFRESH_TOKEN_ABSOLUTE_TTL`);
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
    registration: v.REGISTRATION,
    registrationToken,
    keyActivationDelay: v.KEY_ACTIVATION_DELAY,
    purgeInterval: v.PURGE_INTERVAL,
    auditRetention: v.AUDIT_RETENTION,
    logLevel: v.LOG_LEVEL,
  });
}
