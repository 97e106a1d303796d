// A bad configuration is reported all at once: one error listing each bad variable and why, so
// an operator fixes everything in one go instead of one restart per variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { loadProxyConfig } from '../../src/config/proxy.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mcp-config-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

// Problems come in the order they are found: each setting in declaration order, then the checks
// across settings.
describe('every invalid variable at once', () => {
  it('server: names each bad variable, in one message, one line each', () => {
    const err = errorOf(() =>
      loadConfig({
        MCP_OAUTH_PORT: 'eighty',
        MCP_OAUTH_ACCESS_TOKEN_TTL: 'soon',
        MCP_OAUTH_REGISTRATION: 'maybe',
        MCP_OAUTH_HOST: '0.0.0.0',
        MCP_OAUTH_LOGIN_MAX_BLOCK: '0',
        MCP_OAUTH_RATE_LIMIT_FEED: '-1',
        MCP_OAUTH_CIMD_DENY_DOMAINS: 'exa mple.com',
        MCP_OAUTH_METRICS_TOKEN: 'too-short-secret-value',
        MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL: '100d',
        MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL: '10d',
      }),
    );
    expect(err.problems).toEqual([
      'MCP_OAUTH_PORT must be a port number from 1 to 65535',
      'MCP_OAUTH_ACCESS_TOKEN_TTL must be a duration like 300, 300s, 5m, 12h or 30d',
      expect.stringMatching(/^MCP_OAUTH_REGISTRATION: Invalid option/),
      'MCP_OAUTH_METRICS_TOKEN (or MCP_OAUTH_METRICS_TOKEN_FILE) must be at least 32 characters, e.g. from: openssl rand -hex 32',
      'MCP_OAUTH_LOGIN_MAX_BLOCK must be between 1s and 86400s',
      'MCP_OAUTH_RATE_LIMIT_FEED must be a whole number from 0 to 1000000',
      'MCP_OAUTH_CIMD_DENY_DOMAINS must be a comma-separated list of host names or *.domain patterns',
      'MCP_OAUTH_HOST=0.0.0.0 is not a loopback address; serve on a public interface only behind a TLS-terminating reverse proxy and set MCP_OAUTH_TRUST_PROXY=true',
      'MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL must not exceed MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL',
    ]);
    expect(err.message).toMatch(/^9 settings are invalid: /);
    for (const line of err.problems) expect(err.message).toContain(line);
    expect(err.message).not.toContain('\n');
    // The secret's value is never repeated.
    expect(err.message).not.toContain('too-short-secret-value');
  });

  it('server: a single bad variable gives just its line', () => {
    const err = errorOf(() => loadConfig({ MCP_OAUTH_PORT: '70000' }));
    expect(err.problems).toEqual(['MCP_OAUTH_PORT must be a port number from 1 to 65535']);
    expect(err.message).toBe('MCP_OAUTH_PORT must be a port number from 1 to 65535');
  });

  it('server: secrets that cannot be read are listed with the rest', () => {
    const err = errorOf(() =>
      loadConfig({
        MCP_OAUTH_METRICS_TOKEN_FILE: path.join(dir, 'missing'),
        MCP_OAUTH_REGISTRATION_TOKEN: 'r'.repeat(40),
        MCP_OAUTH_REGISTRATION_TOKEN_FILE: path.join(dir, 'missing'),
        MCP_OAUTH_SESSION_TTL: '1y',
      }),
    );
    expect(err.problems).toEqual([
      'MCP_OAUTH_SESSION_TTL must be a duration like 300, 300s, 5m, 12h or 30d',
      'MCP_OAUTH_REGISTRATION_TOKEN and MCP_OAUTH_REGISTRATION_TOKEN_FILE are both set; set only one',
      'MCP_OAUTH_METRICS_TOKEN_FILE: cannot read the file it names',
    ]);
    expect(err.message).not.toContain('r'.repeat(40));
  });

  it('proxy: names each bad variable and each bad route of the routes file', () => {
    const routes = path.join(dir, 'routes.json');
    writeFileSync(
      routes,
      JSON.stringify({
        routes: [
          { resource: 'http://mcp.example.com/a', upstream: 'http://127.0.0.1:1/mcp' },
          { resource: 'https://mcp.example.com/b', upstream: 'ftp://x' },
          { resource: 'https://mcp.example.com/c', upstream: 'http://127.0.0.1:3/mcp', readScope: 'a b' },
        ],
      }),
    );
    const err = errorOf(() =>
      loadProxyConfig({
        MCP_PROXY_ISSUER: 'http://auth.example.com',
        MCP_PROXY_FEED_CLIENT_SECRET: 'feed-secret-value',
        MCP_PROXY_PORT: 'eighty',
        MCP_PROXY_ALGORITHMS: 'HS256',
        MCP_PROXY_SCOPES_HEADER: 'bad header',
        MCP_PROXY_CONFIG: routes,
      }),
    );
    expect(err.problems).toEqual([
      'MCP_PROXY_PORT must be a port number from 0 to 65535',
      'MCP_PROXY_ALGORITHMS may list only ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512, EdDSA',
      expect.stringMatching(/^MCP_PROXY_FEED_CLIENT_ID is required: /),
      'MCP_PROXY_SCOPES_HEADER must be an HTTP header name',
      'MCP_PROXY_ISSUER must be https unless it is a loopback address',
      'MCP_PROXY_CONFIG routes[0].resource must be https unless it is a loopback address',
      'MCP_PROXY_CONFIG routes[1].upstream must be an absolute http(s) URL',
      'MCP_PROXY_CONFIG routes[2].readScope must be one scope token',
    ]);
    expect(err.message).not.toContain('feed-secret-value');
  });
});
