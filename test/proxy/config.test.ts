// loadProxyConfig: MCP_PROXY_* validated with zod, routes from a JSON file or single-route
// variables, secrets only from the environment or *_FILE, loopback unless explicitly allowed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProxyConfig, ProxyConfigError, proxyConfig } from '../../src/proxy/index.js';
import { runProxy } from '../../src/proxy/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mcp-proxy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = {
  MCP_PROXY_ISSUER: 'http://127.0.0.1:4000',
  MCP_PROXY_FEED_CLIENT_ID: 'rc_123',
  MCP_PROXY_FEED_CLIENT_SECRET: 'feed-secret-value',
  MCP_PROXY_RESOURCE: 'http://127.0.0.1:8080/mcp',
  MCP_PROXY_UPSTREAM: 'http://127.0.0.1:3001/mcp',
};

const fails = (env: Record<string, string>, pattern: RegExp) => {
  let error: unknown;
  try {
    loadProxyConfig(env);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ProxyConfigError);
  expect((error as Error).message).toMatch(pattern);
  // No secret ever appears in an error message.
  expect((error as Error).message).not.toContain('feed-secret-value');
};

describe('loadProxyConfig', () => {
  it('single-route variables with safe defaults', () => {
    const c = loadProxyConfig(BASE);
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8080);
    expect(c.feed).toEqual({ id: 'rc_123', secret: 'feed-secret-value' });
    expect(c.algorithms).toEqual(['ES256']);
    expect(c.feedGraceSeconds).toBe(300);
    expect(c.routes).toHaveLength(1);
    expect(c.routes[0]).toMatchObject({
      resource: BASE.MCP_PROXY_RESOURCE,
      upstream: BASE.MCP_PROXY_UPSTREAM,
      readScope: 'mcp:read',
      writeScope: 'mcp:write',
      readOnlyTools: [],
      learnReadOnlyHints: true,
      hideUnauthorizedTools: false,
      authRequestScopes: ['mcp:read', 'mcp:write'],
    });
    expect(c.identityHeaders).toEqual({
      subject: 'x-mcp-subject',
      clientId: 'x-mcp-client-id',
      scopes: 'x-mcp-scopes',
      subjectType: 'x-mcp-subject-type',
    });
    expect(c.upstreamCredential).toBeUndefined();
    expect(c.metricsToken).toBeUndefined();
    expect(c.authRequestPath).toBeUndefined();
  });

  it('reads secrets from *_FILE, and refuses both forms at once', () => {
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'from-a-file\n');
    const { MCP_PROXY_FEED_CLIENT_SECRET: _drop, ...rest } = BASE;
    expect(loadProxyConfig({ ...rest, MCP_PROXY_FEED_CLIENT_SECRET_FILE: file }).feed.secret).toBe('from-a-file');
    fails({ ...BASE, MCP_PROXY_FEED_CLIENT_SECRET_FILE: file }, /both set/);
    fails({ ...rest, MCP_PROXY_FEED_CLIENT_SECRET_FILE: path.join(dir, 'missing') }, /cannot read/);
    fails(rest, /FEED_CLIENT_SECRET/);
    const cred = loadProxyConfig({
      ...BASE,
      MCP_PROXY_UPSTREAM_CREDENTIAL_FILE: file,
      MCP_PROXY_UPSTREAM_CREDENTIAL_HEADER: 'X-Api-Key',
    });
    expect(cred.upstreamCredential).toEqual({ header: 'x-api-key', value: 'from-a-file' });
  });

  it('binds to loopback unless a public bind is explicitly allowed', () => {
    fails({ ...BASE, MCP_PROXY_HOST: '0.0.0.0' }, /not a loopback address.*ALLOW_PUBLIC_BIND/);
    expect(loadProxyConfig({ ...BASE, MCP_PROXY_HOST: '0.0.0.0', MCP_PROXY_ALLOW_PUBLIC_BIND: 'true' }).host).toBe(
      '0.0.0.0',
    );
    expect(loadProxyConfig({ ...BASE, MCP_PROXY_HOST: '::1' }).host).toBe('::1');
  });

  it('refuses unsafe or malformed settings with a message naming the variable', () => {
    fails({ ...BASE, MCP_PROXY_ALGORITHMS: 'HS256' }, /ALGORITHMS/);
    fails({ ...BASE, MCP_PROXY_ALGORITHMS: 'none' }, /ALGORITHMS/);
    fails({ ...BASE, MCP_PROXY_ISSUER: 'http://auth.example.com' }, /ISSUER must be https/);
    fails({ ...BASE, MCP_PROXY_RESOURCE: 'http://mcp.example.com/mcp' }, /^MCP_PROXY_RESOURCE must be https/);
    fails(
      { ...BASE, MCP_PROXY_RESOURCE: 'http://127.0.0.1:8080/.well-known/x' },
      /^MCP_PROXY_RESOURCE path .* is reserved/,
    );
    fails({ ...BASE, MCP_PROXY_UPSTREAM: 'ftp://x' }, /^MCP_PROXY_UPSTREAM must be an absolute http/);
    fails({ ...BASE, MCP_PROXY_PORT: 'eighty' }, /MCP_PROXY_PORT/);
    fails({ ...BASE, MCP_PROXY_READ_SCOPE: 'a b' }, /^MCP_PROXY_READ_SCOPE must be one scope token/);
    fails({ ...BASE, MCP_PROXY_WRITE_SCOPE: 'mcp:read' }, /^MCP_PROXY_WRITE_SCOPE must differ/);
    fails({ ...BASE, MCP_PROXY_METRICS_TOKEN: 'short' }, /METRICS_TOKEN/);
    fails({ ...BASE, MCP_PROXY_SUBJECT_HEADER: 'bad header' }, /SUBJECT_HEADER/);
    const { MCP_PROXY_ISSUER: _i, ...noIssuer } = BASE;
    fails(noIssuer, /ISSUER/);
  });

  it('reads several routes from MCP_PROXY_CONFIG', () => {
    const file = path.join(dir, 'routes.json');
    writeFileSync(
      file,
      JSON.stringify({
        routes: [
          {
            resource: 'https://mcp.example.com/notes',
            upstream: 'http://127.0.0.1:3001/mcp',
            readOnlyTools: ['search'],
            hideUnauthorizedTools: true,
          },
          {
            resource: 'https://mcp.example.com/files',
            upstream: 'http://127.0.0.1:3002/mcp',
            readScope: 'files:read',
            writeScope: 'files:write',
          },
        ],
      }),
    );
    const { MCP_PROXY_RESOURCE: _r, MCP_PROXY_UPSTREAM: _u, ...rest } = BASE;
    const c = loadProxyConfig({ ...rest, MCP_PROXY_CONFIG: file });
    expect(c.routes.map((r) => r.resource)).toEqual(['https://mcp.example.com/notes', 'https://mcp.example.com/files']);
    expect(c.routes[0]?.readOnlyTools).toEqual(['search']);
    expect(c.routes[0]?.hideUnauthorizedTools).toBe(true);
    expect(c.routes[1]?.readScope).toBe('files:read');

    fails({ ...BASE, MCP_PROXY_CONFIG: file }, /both set/);
    const dup = path.join(dir, 'dup.json');
    writeFileSync(
      dup,
      JSON.stringify({
        routes: [
          { resource: 'https://a.example.com/mcp', upstream: 'http://127.0.0.1:1/mcp' },
          { resource: 'https://b.example.com/mcp', upstream: 'http://127.0.0.1:2/mcp' },
        ],
      }),
    );
    fails({ ...rest, MCP_PROXY_CONFIG: dup }, /share the path/);
    const secretInFile = path.join(dir, 'secret.json');
    writeFileSync(
      secretInFile,
      JSON.stringify({
        routes: [{ resource: 'https://a.example.com/mcp', upstream: 'http://127.0.0.1:1/mcp', secret: 'x' }],
      }),
    );
    fails({ ...rest, MCP_PROXY_CONFIG: secretInFile }, /routes\[0\]/);
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{');
    fails({ ...rest, MCP_PROXY_CONFIG: broken }, /invalid JSON/);
  });
});

describe('mcp-oauth proxy entry point', () => {
  it('exits 2 with a one-line message naming every missing setting', async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await runProxy({ MCP_PROXY_ISSUER: 'http://127.0.0.1:4000' })).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    const out = written.join('');
    expect(out).toMatch(/^mcp-oauth proxy: 3 settings are invalid: MCP_PROXY_FEED_CLIENT_ID is required: [^\n]+\n$/);
    expect(out).toContain('MCP_PROXY_FEED_CLIENT_SECRET (or MCP_PROXY_FEED_CLIENT_SECRET_FILE) is required');
    expect(out).toContain('MCP_PROXY_RESOURCE and MCP_PROXY_UPSTREAM are required');
  });
});

describe('proxyConfig (programmatic)', () => {
  it('has the same defaults as the environment, except an ephemeral port and JSON logs', () => {
    const fromEnv = loadProxyConfig(BASE);
    const fromCode = proxyConfig({
      issuer: BASE.MCP_PROXY_ISSUER,
      feed: { id: 'rc_123', secret: 'feed-secret-value' },
      routes: [{ resource: BASE.MCP_PROXY_RESOURCE, upstream: BASE.MCP_PROXY_UPSTREAM }],
    });
    expect({ ...fromCode, port: 8080, logFormat: 'auto' }).toEqual(fromEnv);
    expect(fromCode).toMatchObject({ port: 0, logFormat: 'json' });
  });

  it('refuses a bad route like the environment does', () => {
    expect(() =>
      proxyConfig({
        issuer: BASE.MCP_PROXY_ISSUER,
        feed: { id: 'rc_123', secret: 'feed-secret-value' },
        routes: [{ resource: 'http://mcp.example.com/mcp', upstream: BASE.MCP_PROXY_UPSTREAM }],
      }),
    ).toThrow(/^routes\[0\]\.resource must be https/);
  });

  it('accepts durations for the time settings', () => {
    const c = loadProxyConfig({
      ...BASE,
      MCP_PROXY_UPSTREAM_HEADERS_TIMEOUT: '2m',
      MCP_PROXY_UPSTREAM_BODY_TIMEOUT: '600',
      MCP_PROXY_FEED_GRACE: '10m',
    });
    expect(c).toMatchObject({
      upstreamHeadersTimeoutMs: 120_000,
      upstreamBodyTimeoutMs: 600_000,
      feedGraceSeconds: 600,
    });
  });
});
