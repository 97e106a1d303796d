// The only module that reads the server's environment. Every setting is declared once, in
// server_settings.ts; this file adds the checks that involve several settings and the values
// derived from them. Everything is validated at start, every bad variable is named at once
// (ConfigError), and the result is frozen.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { isLoopbackHost } from '../lib/loopback.js';
import { deepFreeze, type Frozen } from './define.js';
import { type IdentityProviderConfig, readIdentityProviders } from './identity_providers.js';
import { ConfigError, type Env, Problems, readSettings } from './read.js';
import { type ServerSettings, serverSettings } from './server_settings.js';

export { ConfigError };

export type Config = Frozen<
  Omit<ServerSettings, 'issuer' | 'dataDir'> & {
    /** The issuer URL, MCP_OAUTH_ISSUER or `http://HOST:PORT`. */
    issuer: string;
    /** Absolute. */
    dataDir: string;
    databaseFile: string;
    /** From MCP_OAUTH_IDPS_FILE; empty without it. */
    identityProviders: IdentityProviderConfig[];
  }
>;
/** One identity provider, as the server uses it (frozen). */
export type IdentityProvider = Config['identityProviders'][number];
export type RegistrationMode = Config['registration'];
export type LoginThrottleConfig = Config['loginThrottle'];
export type RateLimitConfig = Config['rateLimits'];
export type MetadataDocumentConfig = Config['clientMetadataDocuments'];

export function loadConfig(env: Env = process.env): Config {
  const problems = new Problems();
  const v = readSettings(serverSettings, env, problems);
  let issuer = v.issuer;

  problems.whenValid(['MCP_OAUTH_HOST', 'MCP_OAUTH_TRUST_PROXY'], () => {
    if (!v.trustProxy && !isLoopbackHost(v.host)) {
      problems.add(
        'MCP_OAUTH_HOST',
        `MCP_OAUTH_HOST=${v.host} is not a loopback address; serve on a public interface only behind a TLS-terminating reverse proxy and set MCP_OAUTH_TRUST_PROXY=true`,
      );
    }
  });
  // The default issuer is made of HOST and PORT: checked only when they are valid themselves.
  const issuerNeeds = v.issuer === undefined ? ['MCP_OAUTH_HOST', 'MCP_OAUTH_PORT'] : ['MCP_OAUTH_ISSUER'];
  problems.whenValid([...issuerNeeds, 'MCP_OAUTH_TRUST_PROXY'], () => {
    issuer ??= `http://${isIP(v.host) === 6 ? `[${v.host}]` : v.host}:${v.port}`;
    checkIssuer(issuer, v.trustProxy, problems);
  });
  problems.whenValid(
    [
      'MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS',
      'MCP_OAUTH_CIMD_DEV_CA_FILE',
      'MCP_OAUTH_TRUST_PROXY',
      'MCP_OAUTH_ISSUER',
      'MCP_OAUTH_HOST',
      'MCP_OAUTH_PORT',
    ],
    () => {
      // Loopback document hosts and extra CAs exist for development and tests: never behind a proxy
      // or with a public issuer, where they would reopen the SSRF guard.
      const cimd = v.clientMetadataDocuments;
      if (cimd.devLoopbackHosts.length === 0 && !cimd.devCaFile) return;
      const issuerHost = issuer === undefined ? undefined : URL.parse(issuer)?.hostname;
      if (v.trustProxy || issuerHost === undefined || !isLoopbackHost(issuerHost)) {
        problems.add(
          'MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS',
          'MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS and MCP_OAUTH_CIMD_DEV_CA_FILE are for development only: not with MCP_OAUTH_TRUST_PROXY or a non-loopback issuer',
        );
      }
    },
  );
  problems.whenValid(['MCP_OAUTH_CIMD_DEV_CA_FILE'], () => {
    const file = v.clientMetadataDocuments.devCaFile;
    if (file === undefined) return;
    try {
      readFileSync(file, 'utf8');
    } catch {
      problems.add('MCP_OAUTH_CIMD_DEV_CA_FILE', 'MCP_OAUTH_CIMD_DEV_CA_FILE: cannot read the file it names');
    }
  });
  problems.whenValid(['MCP_OAUTH_CIMD_CACHE_MIN', 'MCP_OAUTH_CIMD_CACHE_MAX'], () => {
    if (v.clientMetadataDocuments.cacheMin > v.clientMetadataDocuments.cacheMax) {
      problems.add('MCP_OAUTH_CIMD_CACHE_MIN', 'must not exceed MCP_OAUTH_CIMD_CACHE_MAX');
    }
  });
  problems.whenValid(['MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL', 'MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL'], () => {
    if (v.refreshTokenIdleTtl > v.refreshTokenAbsoluteTtl) {
      problems.add('MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL', 'must not exceed MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL');
    }
  });
  problems.whenValid(['MCP_OAUTH_ALERT_WEBHOOK_URL', 'MCP_OAUTH_ALERT_WEBHOOK_SECRET'], () => {
    const { webhookUrl, webhookSecret } = v.alerts;
    if (webhookUrl === undefined) return;
    const url = URL.parse(webhookUrl);
    if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) {
      problems.add('MCP_OAUTH_ALERT_WEBHOOK_URL', 'must be an absolute https URL (http only for a loopback address)');
    } else if (url.username || url.password) {
      problems.add('MCP_OAUTH_ALERT_WEBHOOK_URL', 'must not carry credentials; the signature authenticates the server');
    }
    if (webhookSecret === undefined) {
      problems.add('MCP_OAUTH_ALERT_WEBHOOK_SECRET', 'is required with MCP_OAUTH_ALERT_WEBHOOK_URL (or its _FILE)');
    }
  });
  let identityProviders: IdentityProviderConfig[] = [];
  problems.whenValid(['MCP_OAUTH_IDPS_FILE', 'MCP_OAUTH_TRUST_PROXY', 'MCP_OAUTH_ISSUER', 'MCP_OAUTH_HOST'], () => {
    const host = issuer === undefined ? undefined : URL.parse(issuer)?.hostname;
    const serverIsLocal = !v.trustProxy && host !== undefined && isLoopbackHost(host);
    identityProviders = readIdentityProviders(v.sso.providersFile, env, serverIsLocal, problems);
  });
  problems.whenValid(['MCP_OAUTH_PASSWORD_LOGIN', 'MCP_OAUTH_IDPS_FILE'], () => {
    if (!v.sso.passwordLogin && identityProviders.length === 0) {
      problems.add(
        'MCP_OAUTH_PASSWORD_LOGIN',
        'is off but MCP_OAUTH_IDPS_FILE lists no identity provider: nobody could sign in',
      );
    }
  });
  problems.throwIfAny();

  const dataDir = path.resolve(v.dataDir);
  return deepFreeze({
    ...v,
    issuer: issuer as string,
    dataDir,
    databaseFile: path.join(dataDir, 'mcp-oauth.sqlite'),
    identityProviders,
    loginThrottle: { ...v.loginThrottle, firstBlock: Math.min(v.loginThrottle.firstBlock, v.loginThrottle.maxBlock) },
  });
}

/** The URL agents know the server by (RFC 8414 §2), and whether TLS in front of it is trusted. */
function checkIssuer(issuer: string, trustProxy: boolean, problems: Problems): void {
  const url = URL.parse(issuer);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    problems.add('MCP_OAUTH_ISSUER', 'must be an absolute http(s) URL');
    return;
  }
  if (url.search || url.hash || url.username || url.password) {
    problems.add('MCP_OAUTH_ISSUER', 'must not have a query, fragment or userinfo (RFC 8414 §2)');
  } else if (issuer.endsWith('/')) {
    problems.add('MCP_OAUTH_ISSUER', 'must not end with a slash');
  } else if (trustProxy) {
    if (url.protocol !== 'https:') problems.add('MCP_OAUTH_ISSUER', 'must be https when MCP_OAUTH_TRUST_PROXY=true');
  } else if (url.protocol === 'https:') {
    // This server speaks plain HTTP only: an https issuer means a TLS-terminating proxy in front,
    // whose X-Forwarded-Proto must be trusted, or the Secure cookies could never be set.
    problems.add(
      'MCP_OAUTH_ISSUER',
      'is https, but this server speaks plain HTTP: put it behind a TLS-terminating reverse proxy and set MCP_OAUTH_TRUST_PROXY=true',
    );
  } else if (!isLoopbackHost(url.hostname)) {
    problems.add(
      'MCP_OAUTH_ISSUER',
      'must be https unless it is a loopback address (or set MCP_OAUTH_TRUST_PROXY=true behind a TLS-terminating proxy)',
    );
  }
}
