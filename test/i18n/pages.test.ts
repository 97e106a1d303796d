// The pages over real HTTP in each language: how the language is chosen (Accept-Language with
// q-values, ?lang=, the cookie), that it holds across the sign-in and consent steps and form posts,
// that handler texts and per-language scope descriptions come out translated, and that errors sit
// next to their fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANG_COOKIE } from '../../src/i18n/index.js';
import {
  AGENT_NAME,
  connect,
  PASSWORD,
  RESOURCE,
  serverWithUsers,
  signedInClient,
  WebClient,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, PUBLIC_CLIENT, register } from '../support/oauth.js';
import { authorizeParams, openInteraction } from '../support/security.js';

const htmlLang = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];
const h1 = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];

describe('pages in the reader’s language', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await serverWithUsers();
    // Japanese descriptions for the resource's scopes, as `resources describe` stores them.
    await server.app.stores.resources.describe(RESOURCE, 'ja', [
      { scope: 'mcp:read', description: 'データの読み取りとツール一覧の表示' },
      { scope: 'mcp:write', description: 'データの変更と書き込みツールの実行' },
    ]);
  });

  afterAll(async () => {
    await server?.close();
  });

  it.each([
    [undefined, 'en', 'Sign in'],
    ['ja', 'ja', 'サインイン'],
    ['ko-KR,ko;q=0.9,en;q=0.8', 'ko', '로그인'],
    ['en;q=0.5, ja;q=0.9', 'ja', 'サインイン'],
    ['ja-JP', 'ja', 'サインイン'],
    ['ja;q=0, ko', 'ko', '로그인'],
    ['fr-FR, de;q=0.8', 'en', 'Sign in'],
    ['*', 'en', 'Sign in'],
    ['garbage;;;q=x', 'en', 'Sign in'],
  ])('Accept-Language %j → %s', async (header, lang, heading) => {
    const client = new WebClient(server.url, header === undefined ? {} : { 'accept-language': header });
    const { res, html } = await client.page('/account/login');
    expect(res.status).toBe(200);
    expect(htmlLang(html)).toBe(lang);
    expect(h1(html)).toBe(heading);
    expect(res.headers.get('content-language')).toBe(lang);
    expect(res.headers.get('vary')).toMatch(/Accept-Language/i);
  });

  it('?lang= wins over the header, is remembered in a cookie, and an unknown value changes nothing', async () => {
    const client = new WebClient(server.url, { 'accept-language': 'ja' });
    const chosen = await client.page('/account/login?lang=ko');
    expect(htmlLang(chosen.html)).toBe('ko');
    const cookie = chosen.res.headers.getSetCookie().find((c) => c.startsWith(`${LANG_COOKIE}=`));
    expect(cookie).toMatch(/^mcp_lang=ko;/);
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=lax/i);
    expect(htmlLang((await client.page('/account/login')).html)).toBe('ko');
    const bogus = await client.page('/account/login?lang=xx');
    expect(htmlLang(bogus.html)).toBe('ko');
    expect(bogus.res.headers.getSetCookie().some((c) => c.startsWith(`${LANG_COOKIE}=`))).toBe(false);
    // A forged cookie value is ignored: back to the header.
    client.cookies.set(LANG_COOKIE, '<script>');
    expect(htmlLang((await client.page('/account/login')).html)).toBe('ja');
  });

  it('has a switcher on every page whose links keep the query', async () => {
    const admin = await signedInClient(server, 'root');
    for (const path of ['/account', '/admin?state=all', '/admin/agents', '/admin/users', '/admin/audit']) {
      const { html } = await admin.page(path);
      const links = [...html.matchAll(/<a href="([^"]+)" lang="([a-z]+)" hreflang="[a-z]+"/g)].map((m) => [m[1], m[2]]);
      const q = path.split('?')[1];
      expect(links).toEqual(['en', 'ja', 'ko'].map((l) => [`?${q ? `${q}&amp;` : ''}lang=${l}`, l]));
      expect(html).toContain('aria-current="true">English</a>');
    }
  });

  it('never echoes the request path into the switcher links, and escapes the query', async () => {
    const res = await fetch(`${server.url}/interaction/evil_example?lang=ja&a=%22%3E%3Cb%3E`, {
      headers: { accept: 'text/html' },
    });
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(htmlLang(html)).toBe('ja');
    const links = [...html.matchAll(/<a href="([^"]*)" lang=/g)].map((m) => m[1]);
    expect(links).toEqual(['en', 'ja', 'ko'].map((l) => `?a=%22%3E%3Cb%3E&amp;lang=${l}`));
    expect(html).not.toContain('<b>');
  });

  it('shows a wrong password in Japanese, next to the fields it concerns', async () => {
    const client = new WebClient(server.url, { 'accept-language': 'ja' });
    const { csrf } = await client.page('/account/login');
    const res = await client.post('/account/login', { csrf, username: 'alice', password: 'wrong password', next: '' });
    const html = await res.text();
    expect(res.status).toBe(401);
    expect(html).toContain(
      '<div id="login-error"><p class="error" role="alert">ユーザー名またはパスワードが正しくありません。</p></div>',
    );
    expect(html).toMatch(/id="username"[^>]*aria-invalid="true" aria-describedby="login-error"/);
    expect(html).toMatch(/id="password"[^>]*aria-invalid="true" aria-describedby="login-error"/);
    // After the post the switcher points at the sign-in page, not at the POST-only URL.
    expect(html).toContain('href="/account/login?lang=ko"');
  });

  it('keeps the chosen language through sign-in and consent, with the scopes described in it', async () => {
    const agent = await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME });
    const params = authorizeParams(agent, { resource: RESOURCE, scope: 'mcp:read mcp:write' });
    const step = await openInteraction(server, params, new CookieBrowser());
    expect(htmlLang(step.html)).toBe('en');
    const switched = await step.browser.get(`${step.url}?lang=ja`);
    const loginHtml = await switched.text();
    expect(htmlLang(loginHtml)).toBe('ja');
    expect(loginHtml).toContain('自己申告の名前');
    // The cookie carries the choice through the login post and the redirect to consent.
    const posted = await step.browser.post(`${step.url}/login`, {
      csrf: csrfOf(loginHtml),
      username: 'alice',
      password: PASSWORD,
    });
    expect(posted.status).toBe(303);
    const consent = await step.browser.follow(posted, `${step.url}/login`, server.url);
    const html = await consent.res.text();
    expect(htmlLang(html)).toBe('ja');
    expect(h1(html)).toBe('アクセスを許可しますか?');
    expect(html).toContain('データの読み取りとツール一覧の表示');
    expect(html).toContain('データの変更と書き込みツールの実行');
    expect(html).toContain('データを変更できます');
    expect(html).toContain('90 日間');
    expect(html).toContain('14 日間');
    expect(html).toContain('<a href="/account">接続中のエージェント</a>');
    expect(html).toContain(`${server.url}/account`);
    // No Korean descriptions stored: the default English ones are shown translated.
    const ko = await (await step.browser.get(`${consent.url}?lang=ko`)).text();
    expect(htmlLang(ko)).toBe('ko');
    expect(ko).toContain('데이터 읽기 및 도구 목록 보기');
    expect(ko).not.toContain('Read data and list tools');
    expect(ko).toContain('데이터를 변경할 수 있음');
  });

  it('shows the error page of a broken interaction in the chosen language', async () => {
    const browser = new CookieBrowser();
    await browser.get(`${server.url}/account/login?lang=ko`);
    const res = await browser.get(`${server.url}/interaction/unknown-uid`);
    const html = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(htmlLang(html)).toBe('ko');
    expect(html).toContain('에이전트에서 다시 시작하십시오.');
  });

  it('translates the Connected agents page, its notice and its per-language scope text', async () => {
    const { grantId } = await connect(server, 'bob', undefined, 'mcp:read');
    const bob = await signedInClient(server, 'bob');
    const page = await bob.page('/account?lang=ja');
    expect(h1(page.html)).toBe('接続中のエージェント');
    expect(page.html).toContain('データの読み取りとツール一覧の表示');
    expect(page.html).toContain('自己申告の名前');
    const res = await bob.post(`/account/grants/${grantId}/revoke`, { csrf: page.csrf });
    expect(res.status).toBe(303);
    const after = await bob.page(res.headers.get('location') ?? '');
    // The notice names the agent and the server (looked up from bob's own revoked grant).
    expect(after.html).toContain(
      '<p class="notice" role="status">Orders DB での Test Agent のアクセスを取り消しました。',
    );
    const missing = await bob.post(`/account/grants/${grantId}/revoke`, { csrf: after.csrf });
    expect(missing.status).toBe(404);
    const text = await missing.text();
    expect(h1(text)).toBe('見つかりません');
    expect(text).toContain('あなたのアカウントには、そのような接続中のエージェントはありません。');
  });

  it('translates admin notices with plurals, and puts a filter error next to its field', async () => {
    const admin = await signedInClient(server, 'root');
    const en = await admin.page('/admin/users?notice=user-disabled&n=1&lang=en');
    expect(en.html).toContain('User disabled: they cannot sign in. 1 grant revoked.');
    expect((await admin.page('/admin/users?notice=user-disabled&n=3')).html).toContain('3 grants revoked.');
    const ko = await admin.page('/admin/agents?notice=agent-grants-revoked&n=2&lang=ko');
    expect(ko.html).toContain('에이전트의 권한 2건을 취소했습니다.');
    const audit = await admin.page('/admin/audit?limit=0&lang=ja');
    expect(audit.html).toMatch(
      /id="a-limit"[^>]*aria-invalid="true" aria-describedby="filter-problem">\s*<div id="filter-problem" class="field-error"><p class="error" role="alert">表示件数には 1 から 1000 までの整数を指定してください。<\/p>/,
    );
    const grants = await admin.page('/admin?user=nobody');
    expect(grants.html).toContain('「nobody」というユーザーは存在しません。');
  });
});
