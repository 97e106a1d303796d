// The consent template's branches that a local test flow does not reach (a verified agent, a
// redirect off its site, a logo, scopes allowed before), rendered in each language through the real
// views and a real Koa context: the English wording stays as it was, every language renders, and
// the agent's self-chosen values stay escaped.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { durationMessage } from '../../src/i18n/duration.js';
import { createViews } from '../../src/web/views.js';

const views = createViews();

function render(query: string, vars: Record<string, unknown>): string {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = `/interaction/abc${query}`;
  req.headers = { host: '127.0.0.1' };
  const ctx = new Koa().createContext(req, new ServerResponse(req));
  views.render(ctx, 'consent.njk', vars);
  return String(ctx.body);
}

const EVIL = '<img src=x onerror=alert(1)>';

const vars = {
  title: 'Allow access?',
  uid: 'abc',
  csrf: 'token',
  username: 'alice',
  client: {
    id: 'https://agent.example.com/client.json',
    name: `Agent ${EVIL}`,
    verified: true,
    verifiedDomain: 'agent.example.com',
    redirectHost: 'elsewhere.example.net',
    redirectOffSite: true,
    local: false,
    logoUri: 'https://agent.example.com/logo.png',
    known: true,
    askingForMore: true,
  },
  resource: { name: `Orders ${EVIL}`, uri: 'https://orders.example.com/mcp' },
  scopes: [{ scope: 'mcp:write', description: `Change ${EVIL}`, isWrite: true, isDefault: false }],
  granted: [
    { scope: 'mcp:read', description: 'Read data and list tools', descriptions: { ko: '데이터 읽기' }, isWrite: false },
  ],
  lifetime: {
    max: durationMessage(90 * 86_400),
    idle: durationMessage(3600),
    accountUrl: 'https://as.example/account',
  },
};

describe('consent page branches', () => {
  it('keeps the English wording of a verified agent sent off its site', () => {
    const html = render('', vars);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<span class="verified-domain">agent.example.com</span></span>');
    expect(html).toContain(
      '<p class="error redirect-off-site" role="alert"><strong>Warning:</strong> <span class="redirect-host">elsewhere.example.net</span> is not on the same site as <span class="verified-domain">agent.example.com</span>. Allow only if you expected this.</p>',
    );
    expect(html).toContain('You have allowed this agent before; it is asking for more.');
    expect(html).toContain(
      '<li class="scope granted"><span class="scope-text">Read data and list tools</span> <span class="note">(already allowed)</span></li>',
    );
    expect(html).toContain('after <strong>90 days</strong> at the latest');
    expect(html).toContain('does not use it for 1 hour.');
    expect(html).toContain('<a href="/account">Connected agents</a> page (<code>https://as.example/account</code>)');
    expect(html).toContain('<img class="client-logo" src="https://agent.example.com/logo.png"');
  });

  it.each(['ja', 'ko'])('renders every branch in %s, with the values escaped', (lang) => {
    const html = render(`?lang=${lang}`, vars);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).not.toContain('<img src=x');
    expect(html.match(/&lt;img src=x onerror=alert\(1\)&gt;/g)?.length).toBe(3);
    expect(html).toContain('<span class="redirect-host">elsewhere.example.net</span>');
    expect(html).toContain(lang === 'ja' ? '注意:' : '주의:');
    // Korean has the admin's own text; Japanese the translation of the default description.
    expect(html).toContain(lang === 'ja' ? 'データの読み取りとツール一覧の表示' : '데이터 읽기');
    expect(html).toContain(lang === 'ja' ? '90 日間' : '90일');
    expect(html).not.toMatch(/\{[a-z]+\}/);
  });
});
