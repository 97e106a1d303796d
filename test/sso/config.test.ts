// The identity providers file (MCP_OAUTH_IDPS_FILE): what it accepts, and that plain http to a
// provider is refused except for a loopback provider of a loopback server (development, tests).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-idps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'the-upstream-client-secret-value';
writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`);

function file(entries: unknown): string {
  const f = path.join(dir, `idps-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, typeof entries === 'string' ? entries : JSON.stringify(entries));
  return f;
}

const ENTRY = {
  name: 'acme',
  display_name: 'Acme',
  issuer: 'https://login.acme.example',
  client_id: 'mcp',
  client_secret_file: path.join(dir, 'secret'),
  allowed_email_domains: ['Acme.example'],
};

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('MCP_OAUTH_IDPS_FILE', () => {
  it('reads providers with their defaults and the secret from the file it names', () => {
    const c = loadConfig({ MCP_OAUTH_IDPS_FILE: file([ENTRY]) });
    expect(c.identityProviders).toEqual([
      {
        name: 'acme',
        displayName: 'Acme',
        issuer: 'https://login.acme.example',
        clientId: 'mcp',
        clientSecret: SECRET,
        scopes: 'openid email profile offline_access',
        accounts: 'create',
        linkByEmail: false,
        allowedEmailDomains: ['acme.example'],
        groupsClaim: 'groups',
        allowedGroups: [],
        adminGroups: [],
        insecureLoopback: false,
      },
    ]);
    expect(c.sso).toMatchObject({ passwordLogin: true, recheckInterval: 3600 });
  });

  it('reads an ID-JAG policy, and refuses a malformed one', () => {
    const policy = { resources: ['https://mcp.acme.example/mcp'], scopes: ['mcp:read'] };
    const c = loadConfig({ MCP_OAUTH_IDPS_FILE: file([{ ...ENTRY, id_jag: policy }]) });
    expect(c.identityProviders[0]?.idJag).toEqual(policy);
    expect(problem({ MCP_OAUTH_IDPS_FILE: file([{ ...ENTRY, id_jag: { ...policy, resources: [] } }]) })).toMatch(
      /id_jag/,
    );
  });

  it('takes the secret from the variable an entry names', () => {
    const entry = { ...ENTRY, client_secret_file: undefined, client_secret_env: 'ACME_SECRET' };
    const c = loadConfig({ MCP_OAUTH_IDPS_FILE: file([entry]), ACME_SECRET: SECRET });
    expect(c.identityProviders[0]?.clientSecret).toBe(SECRET);
    expect(problem({ MCP_OAUTH_IDPS_FILE: file([entry]) })).toMatch(/client secret it names is empty or unset/);
  });

  it.each([
    [{ ...ENTRY, issuer: 'http://login.acme.example' }, /issuer must be https/],
    [{ ...ENTRY, issuer: 'https://login.acme.example/?x=1' }, /without query/],
    [{ ...ENTRY, name: 'Acme Corp' }, /name/],
    [{ ...ENTRY, scopes: 'email' }, /scopes must include openid/],
    [{ ...ENTRY, accounts: 'existing' }, /needs link_by_email/],
    [{ ...ENTRY, allowed_email_domains: [] }, /needs allowed_email_domains or allowed_groups/],
    [{ ...ENTRY, client_secret: SECRET }, /Unrecognized key/],
    [{ ...ENTRY, client_secret_file: path.join(dir, 'missing') }, /cannot read client_secret_file/],
  ])('refuses a bad entry (%#)', (entry, message) => {
    const text = problem({ MCP_OAUTH_IDPS_FILE: file([entry]) });
    expect(text).toMatch(message);
    // A secret pasted into the file is never repeated.
    expect(text).not.toContain(SECRET);
  });

  it('refuses a file that is not JSON, and a name used twice', () => {
    expect(problem({ MCP_OAUTH_IDPS_FILE: file('not json') })).toMatch(/cannot read the file it names as JSON/);
    expect(problem({ MCP_OAUTH_IDPS_FILE: file([ENTRY, ENTRY]) })).toMatch(/the name is used twice/);
  });

  it('accepts http only for a loopback provider of a loopback server without a trusted proxy', () => {
    const local = { ...ENTRY, issuer: 'http://127.0.0.1:5555' };
    expect(loadConfig({ MCP_OAUTH_IDPS_FILE: file([local]) }).identityProviders[0]?.insecureLoopback).toBe(true);
    expect(
      problem({
        MCP_OAUTH_IDPS_FILE: file([local]),
        MCP_OAUTH_TRUST_PROXY: 'true',
        MCP_OAUTH_ISSUER: 'https://auth.example.com',
      }),
    ).toMatch(/issuer must be https/);
  });

  it('refuses turning password sign-in off with no provider to sign in with', () => {
    expect(problem({ MCP_OAUTH_PASSWORD_LOGIN: 'off' })).toMatch(/nobody could sign in/);
    expect(loadConfig({ MCP_OAUTH_PASSWORD_LOGIN: 'off', MCP_OAUTH_IDPS_FILE: file([ENTRY]) }).sso.passwordLogin).toBe(
      false,
    );
  });
});
