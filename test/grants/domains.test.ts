// Domain blocks take the host names the metadata-document settings take (one validator,
// src/lib/host_names.ts): a single label such as `localhost` is a name in
// MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS and the allow and deny lists, so it is one for
// `clients disable --domain` and the admin API too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';

const NAMES: [string, boolean][] = [
  ['localhost', true],
  ['intranet-host', true],
  ['agents.example.com', true],
  ['x1', true],
  ['bad_name', false],
  ['-x', false],
  ['x-', false],
  ['a..b', false],
  [`${'a'.repeat(64)}.example.com`, false],
  ['http://example.com', false],
];

const configAccepts = (name: string): boolean => {
  try {
    loadConfig({ MCP_OAUTH_CIMD_DENY_DOMAINS: name });
    return true;
  } catch (err) {
    if (err instanceof ConfigError) return false;
    throw err;
  }
};

describe('domain blocks accept the host names the settings accept', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS: 'localhost' });
    token = (await server.app.stores.adminTokens.create('tests', null, epochSeconds())).token;
  });
  afterAll(() => server.close());

  const cli = (...argv: string[]) => cliFor(server.dataDir).run(argv);
  const api = (domain: string) =>
    fetch(`${server.url}/admin/api/client-domains/${encodeURIComponent(domain)}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });

  it('clients disable --domain localhost (the name MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS took)', async () => {
    expect(server.config.clientMetadataDocuments.devLoopbackHosts).toEqual(['localhost']);
    expect(await cli('clients', 'disable', '--domain', 'LocalHost.')).toEqual({
      code: 0,
      out: 'disabled domain localhost; revoked 0 grants\n',
      err: '',
    });
    expect(await server.app.stores.clientState.isDomainBlocked('localhost')).toBe(true);
    expect(await cli('clients', 'enable', '--domain', 'localhost')).toEqual({
      code: 0,
      out: 'enabled domain localhost\n',
      err: '',
    });
  });

  it.each(NAMES)('%s: the CLI, the admin API and the settings agree (%s)', async (name, ok) => {
    expect(configAccepts(name)).toBe(ok);
    const byCli = await cli('clients', 'disable', '--domain', name);
    expect(byCli.code).toBe(ok ? 0 : 1);
    if (!ok) expect(byCli.err).toBe(`mcp-oauth: not a host name: ${JSON.stringify(name)}\n`);
    if (ok) expect((await cli('clients', 'enable', '--domain', name)).code).toBe(0);
    const byApi = await api(name);
    expect(byApi.status).toBe(ok ? 200 : 400);
    if (ok) expect((await api(name)).status).toBe(200);
  });

  it('a wildcard is refused with what to give instead (a block covers every subdomain)', async () => {
    expect(configAccepts('*.example.com')).toBe(true);
    expect(await cli('clients', 'disable', '--domain', '*.example.com')).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: a domain block covers every subdomain already: give example.com instead of *.example.com\n',
    });
    const res = await api('*.example.com');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect((await server.app.stores.clientState.blockedDomains()).map((d) => d.domain)).not.toContain('example.com');
  });
});
