// Honest consent: the page says who is really asking. Checked on the rendered HTML by its marked
// elements (the words are translated; the classes are not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteOf } from '../../src/interactions/consent.js';
import type { TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { type DocumentServer, documentFor, MCP, PASSWORD, startCimdSetup } from './support.js';

let docs: DocumentServer;
let server: TestServer;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ docs, server, close } = await startCimdSetup(['alice', 'bob']));
});
afterAll(async () => {
  await close?.();
});

/** The consent page the user sees (then denied, so nothing is granted unless `allow`). */
async function consentPage(
  client: RegisteredClient,
  opts: { user?: string; allow?: boolean; redirectUri?: string } = {},
) {
  const got = await authorize(server.url, {
    client,
    username: opts.user ?? 'alice',
    password: PASSWORD,
    resource: MCP,
    decision: opts.allow ? 'allow' : 'deny',
    ...(opts.redirectUri ? { redirectUri: opts.redirectUri } : {}),
  });
  if (!got.consentHtml) throw new Error('no consent page');
  return { html: got.consentHtml, got };
}

function text(html: string, cls: string): string | undefined {
  const m = new RegExp(`class="[^"]*\\b${cls}\\b[^"]*"[^>]*>([^<]*)`).exec(html);
  return m?.[1]?.trim();
}

describe('a dynamically registered agent', () => {
  it('shows its self-chosen name marked unverified, no logo, the redirect host, and "new"', async () => {
    const client = await register(server.url, {
      ...PUBLIC_CLIENT,
      client_name: 'Claude <script>alert(1)</script>',
      logo_uri: 'https://evil.example/logo.png',
    });
    const { html } = await consentPage(client);
    expect(html).toContain('badge unverified');
    expect(html).not.toContain('class="badge verified"');
    expect(html).not.toContain('client-logo');
    expect(html).not.toContain('evil.example/logo.png');
    // Escaped, never markup.
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('Claude &lt;script&gt;');
    expect(text(html, 'redirect-host')).toBe('127.0.0.1');
    expect(html).toContain('local-program');
    expect(html).toContain('agent-new');
    expect(html).not.toContain('redirect-off-site');
  });

  it('a repeat registration (same name, redirect URIs, software id) is known to a user who allowed it', async () => {
    const body = { ...PUBLIC_CLIENT, client_name: 'Repeat Agent', software_id: 'repeat-agent' };
    const first = await register(server.url, body);
    await consentPage(first, { allow: true });
    const second = await register(server.url, body);
    expect(second.client_id).not.toBe(first.client_id);
    expect((await consentPage(second)).html).toContain('agent-known');
    // Another user has never allowed it; and a different software id is another agent.
    expect((await consentPage(second, { user: 'bob' })).html).toContain('agent-new');
    const other = await register(server.url, { ...body, software_id: 'other-agent' });
    expect((await consentPage(other)).html).toContain('agent-new');
  });

  it('an https redirect shows its host without a loopback note', async () => {
    const client = await register(server.url, {
      ...PUBLIC_CLIENT,
      redirect_uris: ['https://app.example.net/oauth/cb'],
    });
    const { html } = await consentPage(client);
    expect(text(html, 'redirect-host')).toBe('app.example.net');
    expect(html).not.toContain('local-program');
  });
});

describe('a metadata-document agent', () => {
  it('shows "verified" with its domain, its logo, and the loopback note', async () => {
    const path = '/consent/local.json';
    const url = docs.serve(path, {
      body: documentFor(`${docs.origin}${path}`, {
        client_name: 'Verified Agent',
        logo_uri: 'https://cdn.example.com/logo.png',
      }),
    });
    const { html } = await consentPage({ client_id: url, redirect_uris: ['http://127.0.0.1:7777/callback'] });
    expect(html).toContain('class="badge verified"');
    expect(text(html, 'verified-domain')).toBe('localhost');
    expect(html).toContain('src="https://cdn.example.com/logo.png"');
    expect(html).toContain('local-program');
    expect(html).not.toContain('redirect-off-site');
  });

  it('the page policy allows the verified logo origin only', async () => {
    const path = '/consent/csp.json';
    const url = docs.serve(path, {
      body: documentFor(`${docs.origin}${path}`, { logo_uri: 'https://cdn.example.com/l.png' }),
    });
    const { got } = await consentPage({ client_id: url, redirect_uris: ['http://127.0.0.1:7777/callback'] });
    // Fetch the consent page again for its headers.
    const res = await got.browser.get(
      `${server.url}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: url,
        redirect_uri: 'http://127.0.0.1:7777/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        resource: MCP,
      })}`,
    );
    const page = await got.browser.follow(res, `${server.url}/authorize`, server.url);
    const csp = page.res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain('img-src https://cdn.example.com');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
  });

  it('a web callback on the same site: no warning', async () => {
    const path = '/consent/web.json';
    const cb = `${docs.origin}/oauth/callback`;
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`, { redirect_uris: [cb] }) });
    const { html } = await consentPage({ client_id: url, redirect_uris: [cb] });
    expect(text(html, 'redirect-host')).toBe(new URL(docs.origin).host);
    expect(html).not.toContain('redirect-off-site');
    expect(html).not.toContain('local-program');
  });

  it('a web callback on another site: a warning naming both', async () => {
    const path = '/consent/elsewhere.json';
    const cb = 'https://collector.example.net/cb';
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`, { redirect_uris: [cb] }) });
    const { html } = await consentPage({ client_id: url, redirect_uris: [cb] });
    expect(html).toContain('redirect-off-site');
    expect(html).toContain('collector.example.net');
  });

  it('known after the user allowed it once', async () => {
    const path = '/consent/known.json';
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`) });
    const client = { client_id: url, redirect_uris: ['http://127.0.0.1:7000/callback'] };
    expect((await consentPage(client, { allow: true })).html).toContain('agent-new');
    const again = await authorize(server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: MCP,
      scope: 'mcp:read mcp:write',
      decision: 'deny',
    });
    expect(again.consentHtml).toContain('agent-known');
  });
});

describe('same site, approximated', () => {
  it.each([
    ['app.example.com', 'example.com'],
    ['example.com', 'example.com'],
    ['a.b.example.co.uk', 'example.co.uk'],
    ['localhost', 'localhost'],
    ['claude.ai', 'claude.ai'],
  ])('%s is on the site %s', (host, site) => {
    expect(siteOf(host)).toBe(site);
  });
});
