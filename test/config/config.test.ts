import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

describe('configuration from the environment', () => {
  it('defaults to a loopback server with a 5-minute access token', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      issuer: 'http://127.0.0.1:4000',
      accessTokenTtl: 300,
      registration: 'open',
      trustProxy: false,
    });
    expect(c.databaseFile.endsWith(path.join('data', 'mcp-oauth.sqlite'))).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ MCP_OAUTH_PORT: 'abc' }, /MCP_OAUTH_PORT/],
    [{ MCP_OAUTH_PORT: '70000' }, /MCP_OAUTH_PORT/],
    [{ MCP_OAUTH_ACCESS_TOKEN_TTL: 'soon' }, /MCP_OAUTH_ACCESS_TOKEN_TTL must be a duration/],
    [{ MCP_OAUTH_ACCESS_TOKEN_TTL: '5' }, /MCP_OAUTH_ACCESS_TOKEN_TTL must be between/],
    [{ MCP_OAUTH_REGISTRATION: 'maybe' }, /MCP_OAUTH_REGISTRATION/],
    [{ MCP_OAUTH_HOST: '0.0.0.0' }, /MCP_OAUTH_HOST=0.0.0.0 is not a loopback address/],
    [{ MCP_OAUTH_ISSUER: 'http://auth.example.com' }, /MCP_OAUTH_ISSUER must be https/],
    // Secure cookies need the forwarded scheme: an https issuer without a trusted proxy would
    // answer 500 on every page that sets a cookie.
    [{ MCP_OAUTH_ISSUER: 'https://auth.example.com' }, /set MCP_OAUTH_TRUST_PROXY=true/],
    [{ MCP_OAUTH_ISSUER: 'https://auth.example.com/' }, /must not end with a slash/],
    [{ MCP_OAUTH_ISSUER: 'https://auth.example.com?x=1' }, /must not have a query/],
    [{ MCP_OAUTH_ISSUER: 'not a url' }, /MCP_OAUTH_ISSUER must be an absolute/],
    [
      { MCP_OAUTH_TRUST_PROXY: 'true', MCP_OAUTH_HOST: '0.0.0.0', MCP_OAUTH_ISSUER: 'http://auth.example.com' },
      /must be https when/,
    ],
    // Token mode no longer needs a fixed token (tokens come from `mcp-oauth clients token`), but
    // one that is set must be long enough.
    [{ MCP_OAUTH_REGISTRATION_TOKEN: 'short' }, /MCP_OAUTH_REGISTRATION_TOKEN/],
    [
      {
        MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS: 'localhost',
        MCP_OAUTH_ISSUER: 'https://auth.example.com',
        MCP_OAUTH_TRUST_PROXY: 'true',
      },
      /development only/,
    ],
    [{ MCP_OAUTH_CIMD_DENY_DOMAINS: 'exa mple.com' }, /MCP_OAUTH_CIMD_DENY_DOMAINS/],
    [{ MCP_OAUTH_CIMD_CACHE_MIN: '2h', MCP_OAUTH_CIMD_CACHE_MAX: '1h' }, /MCP_OAUTH_CIMD_CACHE_MIN must not exceed/],
    [{ MCP_OAUTH_CIMD_DEV_CA_FILE: '/nonexistent/ca.pem' }, /MCP_OAUTH_CIMD_DEV_CA_FILE/],
    [{ MCP_OAUTH_MAX_UNUSED_CLIENTS: '0' }, /MCP_OAUTH_MAX_UNUSED_CLIENTS/],
    [{ MCP_OAUTH_UNUSED_CLIENT_TTL: '5s' }, /MCP_OAUTH_UNUSED_CLIENT_TTL/],
    [{ MCP_OAUTH_REGISTRATION: 'token', MCP_OAUTH_REGISTRATION_TOKEN: 'short' }, /at least 32 characters/],
    [{ MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL: '100d', MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL: '10d' }, /must not exceed/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts a public interface only behind a TLS-terminating proxy with an https issuer', () => {
    const c = loadConfig({
      MCP_OAUTH_HOST: '0.0.0.0',
      MCP_OAUTH_TRUST_PROXY: 'true',
      MCP_OAUTH_ISSUER: 'https://auth.example.com',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', trustProxy: true, issuer: 'https://auth.example.com' });
  });

  it('reads secrets from *_FILE and refuses both forms at once', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-config-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, `${'x'.repeat(40)}\n`);
    const c = loadConfig({ MCP_OAUTH_REGISTRATION: 'token', MCP_OAUTH_REGISTRATION_TOKEN_FILE: file });
    expect(c.registrationToken).toBe('x'.repeat(40));
    expect(() =>
      loadConfig({ MCP_OAUTH_REGISTRATION_TOKEN: 'a'.repeat(40), MCP_OAUTH_REGISTRATION_TOKEN_FILE: file }),
    ).toThrow(/both set/);
    expect(() => loadConfig({ MCP_OAUTH_REGISTRATION_TOKEN_FILE: path.join(dir, 'missing') })).toThrow(/cannot read/);
  });

  it('parses durations in s, m, h and d', () => {
    expect(loadConfig({ MCP_OAUTH_ACCESS_TOKEN_TTL: '10m' }).accessTokenTtl).toBe(600);
    expect(loadConfig({ MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL: '2d' }).refreshTokenIdleTtl).toBe(172800);
  });
});
