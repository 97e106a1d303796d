import { describe, expect, it } from 'vitest';
import { classifyRedirectUri, judgeRedirectUris } from '../../src/lib/redirect_uris.js';
import { canonicalResource } from '../../src/lib/resource_uri.js';

describe('canonical resource indicators', () => {
  it.each([
    ['https://mcp.example.com/mcp', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp/', 'https://mcp.example.com/mcp'],
    ['https://MCP.Example.com:443/mcp', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/', 'https://mcp.example.com'],
    ['https://mcp.example.com', 'https://mcp.example.com'],
    ['http://127.0.0.1:8080/mcp//', 'http://127.0.0.1:8080/mcp'],
    ['https://mcp.example.com/mcp?tenant=a', 'https://mcp.example.com/mcp?tenant=a'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalResource(input)).toEqual({ ok: true, uri: expected });
  });

  it.each([
    'https://mcp.example.com/mcp#frag',
    'mcp.example.com',
    'ftp://x.example.com',
    'https://user:pw@x.example.com/mcp',
    '',
  ])('refuses %s', (input) => {
    expect(canonicalResource(input).ok).toBe(false);
  });
});

describe('redirect URI policy', () => {
  it.each([
    ['https://claude.ai/api/mcp/auth_callback', 'https'],
    ['http://127.0.0.1:33418/callback', 'loopback'],
    ['http://localhost/callback', 'loopback'],
    ['http://[::1]:9000/cb', 'loopback'],
    ['cursor://anysphere.cursor-retrieval/oauth/user-x/callback', 'private-use'],
    ['vscode://vscode.dev/redirect', 'private-use'],
  ])('allows %s as %s', (uri, kind) => {
    expect(classifyRedirectUri(uri)).toMatchObject({ ok: true, kind });
  });

  it.each([
    'http://evil.example.com/cb',
    'http://127.0.0.1.evil.example.com/cb',
    'javascript:alert(1)',
    'data:text/html,hi',
    'file:///etc/passwd',
    'https://example.com/cb#frag',
    'https://user@example.com/cb',
    '/relative',
    `https://example.com/${'a'.repeat(2100)}`,
  ])('refuses %s', (uri) => {
    expect(classifyRedirectUri(uri).ok).toBe(false);
  });

  it('makes a client native when any redirect is loopback or a private-use scheme', () => {
    expect(judgeRedirectUris(['https://a.example.com/cb'])).toEqual({
      ok: true,
      applicationType: 'web',
      allLocal: false,
    });
    expect(judgeRedirectUris(['http://127.0.0.1/cb'])).toEqual({ ok: true, applicationType: 'native', allLocal: true });
    expect(judgeRedirectUris(['https://a.example.com/cb', 'cursor://x/cb'])).toMatchObject({
      ok: true,
      applicationType: 'native',
      allLocal: false,
    });
    expect(judgeRedirectUris([]).ok).toBe(false);
    expect(judgeRedirectUris('https://a.example.com/cb').ok).toBe(false);
  });
});
