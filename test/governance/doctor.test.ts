// `mcp-oauth doctor` against real deployments: a healthy authorization server with a proxy route
// passes; one with registration off, and a deployment that gets every agent quirk wrong (no CORS, a
// skewed clock, strict registration and authorization, a route whose metadata names another
// issuer), fail on exactly those checks, naming the agents and the fix.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/cli/doctor_checks.js';
import { type Chain, startChain } from '../proxy/helpers.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';

async function doctor(args: string[]) {
  const result = await cliFor().run(['doctor', ...args, '--json']);
  const report = JSON.parse(result.out) as { ok: boolean; findings: Finding[] };
  const status = (id: string) => report.findings.find((f) => f.id === id)?.status;
  return { ...result, report, status };
}

describe('doctor on a healthy deployment', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await startChain();
  });
  afterAll(() => chain.close());

  it('passes every check it can run, and leaves no registration behind', async () => {
    const { code, report, status } = await doctor([chain.as.url, '--resource', chain.resource]);
    expect(report.findings.filter((f) => f.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    for (const id of [
      'metadata.oauth',
      'metadata.openid',
      'metadata.pkce',
      'metadata.registration',
      'cors.metadata',
      'cors.registration',
      'clock',
      `resource.challenge ${chain.resource}`,
      `resource.metadata ${chain.resource}`,
      `resource.cors ${chain.resource}`,
      'quirk.loopback_registration',
      'quirk.custom_scheme',
      'quirk.unknown_fields',
      'quirk.empty_scope',
      'quirk.loopback_any_port',
      'quirk.trailing_slash',
      'quirk.all_scopes',
    ]) {
      expect([id, status(id)]).toEqual([id, 'pass']);
    }
    // Plain http on loopback is for development: a warning, not a failure.
    expect(status('tls')).toBe('warn');
    expect(status('refresh.parallel')).toBe('skip');
    const left = (await chain.as.sql.get(
      "SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'Client' AND payload LIKE '%mcp-oauth doctor check%'",
    )) as { n: number };
    expect(left.n).toBe(0);
  });
});

describe('doctor on a server with registration off', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_REGISTRATION: 'off' });
  });
  afterAll(() => server.close());

  it('fails the registration check for agents that register dynamically, and says how to fix it', async () => {
    const { code, report, status } = await doctor([server.url]);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(status('metadata.registration')).toBe('fail');
    expect(report.findings.find((f) => f.id === 'metadata.registration')?.fix).toContain('MCP_OAUTH_REGISTRATION=open');
    const human = await cliFor().run(['doctor', server.url]);
    expect(human.code).toBe(1);
    expect(human.out).toMatch(/FAIL\s+metadata\.registration/);
    expect(human.out).toContain('would fail for: agents that register dynamically');
  });
});

describe('doctor on a deployment that gets the agent quirks wrong', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', base);
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        // A clock an hour fast, and no CORS anywhere.
        res.setHeader('date', new Date(Date.now() + 3_600_000).toUTCString());
        if (req.method === 'OPTIONS') return json(404, { error: 'not_found' });
        if (url.pathname === '/.well-known/oauth-authorization-server') {
          return json(200, {
            issuer: base,
            authorization_endpoint: `${base}/authorize`,
            token_endpoint: `${base}/token`,
            registration_endpoint: `${base}/register`,
            code_challenge_methods_supported: ['S256'],
            scopes_supported: ['mcp:read', 'mcp:write', 'offline_access'],
          });
        }
        if (url.pathname === '/register') {
          const body = JSON.parse(raw) as Record<string, unknown>;
          const known = [
            'client_name',
            'redirect_uris',
            'grant_types',
            'response_types',
            'token_endpoint_auth_method',
            'scope',
          ];
          if (Object.keys(body).some((k) => !known.includes(k))) return json(400, { error: 'invalid_client_metadata' });
          if ((body.redirect_uris as string[]).some((u) => !u.startsWith('http')))
            return json(400, { error: 'invalid_redirect_uri' });
          if (body.scope === '') return json(400, { error: 'invalid_client_metadata' });
          return json(201, { client_id: 'c1' });
        }
        if (url.pathname === '/authorize') {
          const redirect = url.searchParams.get('redirect_uri') ?? '';
          if (redirect !== 'http://127.0.0.1:33418/callback') return json(400, { error: 'invalid_redirect_uri' });
          if (url.searchParams.get('resource')?.endsWith('/')) {
            res.writeHead(302, { location: `${redirect}?error=invalid_target` });
            return res.end();
          }
          if (url.searchParams.get('scope')?.includes('offline_access')) {
            res.writeHead(302, { location: `${redirect}?error=invalid_scope` });
            return res.end();
          }
          res.writeHead(303, { location: `${base}/login` });
          return res.end();
        }
        if (url.pathname === '/mcp') {
          return json(
            401,
            { error: 'invalid_token' },
            {
              'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
            },
          );
        }
        if (url.pathname === '/.well-known/oauth-protected-resource/mcp') {
          return json(200, {
            resource: `${base}/mcp`,
            authorization_servers: ['https://other-issuer.example'],
            scopes_supported: ['mcp:read'],
          });
        }
        return json(404, { error: 'not_found' });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  });

  it('finds each quirk, and what does work still passes', async () => {
    const { code, status, report } = await doctor([base, '--resource', `${base}/mcp`]);
    expect(code).toBe(1);
    const failing = [
      'cors.metadata',
      'clock',
      'cors.registration',
      'cors.token',
      `resource.metadata ${base}/mcp`,
      `resource.cors ${base}/mcp`,
      'quirk.custom_scheme',
      'quirk.unknown_fields',
      'quirk.empty_scope',
      'quirk.loopback_any_port',
      'quirk.trailing_slash',
      'quirk.all_scopes',
    ];
    for (const id of failing) expect([id, status(id)]).toEqual([id, 'fail']);
    for (const id of [
      'metadata.oauth',
      'metadata.pkce',
      'quirk.loopback_registration',
      `resource.challenge ${base}/mcp`,
    ]) {
      expect([id, status(id)]).toEqual([id, 'pass']);
    }
    expect(report.findings.find((f) => f.id === `resource.metadata ${base}/mcp`)?.summary).toContain(
      'other-issuer.example',
    );
    expect(report.findings.find((f) => f.id === 'quirk.loopback_any_port')?.agents).toContain('random loopback port');
    for (const f of report.findings.filter((x) => x.status === 'fail')) expect(f.fix).toBeTruthy();
  });
});
