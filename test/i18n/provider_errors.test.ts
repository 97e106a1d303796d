// oidc-provider's error page over real HTTP in each language: its common error descriptions come
// out translated, any other one as a sentence about its error code; English keeps the exact text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createI18n } from '../../src/i18n/index.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { authorizeParams } from '../support/security.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const message = (html: string) => /<p class="error" role="alert">([^<]*)<\/p>/.exec(html)?.[1];
const heading = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];

describe('provider error descriptions', () => {
  let server: TestServer;
  let client: RegisteredClient;

  beforeAll(async () => {
    server = await startTestServer();
    await server.addResource(RESOURCE, 'Orders');
    client = await register(server.url, PUBLIC_CLIENT);
  });

  afterAll(async () => {
    await server?.close();
  });

  async function errorPage(params: URLSearchParams, lang: string) {
    const res = await fetch(`${server.url}/authorize?${params}`, {
      redirect: 'manual',
      headers: { accept: 'text/html', 'accept-language': lang },
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    return { heading: heading(html), message: message(html) };
  }

  it.each([
    ['en', 'Unknown agent', 'client is invalid'],
    ['ja', '不明なエージェントです', 'このエージェントは登録されていないか、登録が無効です。'],
    ['ko', '알 수 없는 에이전트입니다', '이 에이전트는 등록되어 있지 않거나 등록이 유효하지 않습니다.'],
  ])('an unknown client in %s', async (lang, title, text) => {
    const page = await errorPage(authorizeParams({ ...client, client_id: 'nobody' }), lang);
    expect(page.message).toBe(text);
    expect(page.heading).toBe(title);
  });

  it.each([
    ['en', 'redirect_uri did not match any of the client&#39;s registered redirect_uris'],
    ['ja', 'エージェントが指定した戻り先 (redirect_uri) は、登録されたどの戻り先とも一致しません。'],
    ['ko', '에이전트가 지정한 돌아갈 주소(redirect_uri)가 등록된 어떤 주소와도 일치하지 않습니다.'],
  ])('a redirect URI the agent did not register in %s', async (lang, text) => {
    const params = authorizeParams(client, { redirect_uri: 'https://elsewhere.example/cb' });
    expect((await errorPage(params, lang)).message).toBe(text);
  });

  it.each([
    ['en', 'missing required parameter &#39;response_type&#39;'],
    ['ja', '必須のパラメーター &#39;response_type&#39; がありません。'],
    ['ko', '필수 매개변수 &#39;response_type&#39;이(가) 없습니다.'],
  ])('a missing parameter, named, in %s', async (lang, text) => {
    const params = authorizeParams(client);
    params.delete('response_type');
    expect((await errorPage(params, lang)).message).toBe(text);
  });

  it.each([
    ['en', 'code_challenge must be a string with a minimum length of 43 characters'],
    ['ja', 'エージェントから、このサーバーが受け付けられないリクエストが送信されました。'],
    ['ko', '에이전트가 이 서버에서 받아들일 수 없는 요청을 보냈습니다.'],
  ])('any other description by its error code in %s', async (lang, text) => {
    const params = authorizeParams(client, { code_challenge: 'short' });
    expect((await errorPage(params, lang)).message).toBe(text);
  });
});

describe('provider error texts in the catalogue', () => {
  const { translator } = createI18n();

  it('tell one missing parameter from several', () => {
    expect(translator.text('ja', "missing required parameters 'a' and 'b'")).toBe(
      "必須のパラメーター 'a' and 'b' がありません。",
    );
    expect(translator.text('ko', "missing required parameter 'a'")).toBe("필수 매개변수 'a'이(가) 없습니다.");
  });

  it('keep what our own checks add to a description', () => {
    expect(translator.text('ja', "the agent's metadata document is invalid: redirect_uris must be https")).toBe(
      'エージェントのメタデータ文書が正しくありません: redirect_uris must be https',
    );
  });
});
