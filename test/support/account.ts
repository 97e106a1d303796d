// A web client for the account and admin pages (cookie jar, forms, the page's CSRF token) and a
// way to give a user a connected agent (a grant) through the real OAuth flow.
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';

export const PASSWORD = 'correct horse battery staple';
export const RESOURCE = 'https://orders.example.com/mcp';
export const RESOURCE_NAME = 'Orders DB';
export const AGENT_NAME = 'Test Agent';

export class WebClient {
  readonly cookies = new Map<string, string>();
  /** Set-Cookie lines of the last response. */
  setCookies: string[] = [];

  constructor(
    readonly base: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(
    method: string,
    path: string,
    opts: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html', ...this.extraHeaders, ...opts.headers };
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    let body: URLSearchParams | undefined;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form);
    }
    const res = await fetch(new URL(path, this.base), { method, headers, body, redirect: 'manual' });
    this.setCookies = res.headers.getSetCookie();
    for (const line of this.setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(path: string, headers?: Record<string, string>): Promise<Response> {
    return this.request('GET', path, headers ? { headers } : {});
  }

  post(path: string, form: Record<string, string>): Promise<Response> {
    return this.request('POST', path, { form });
  }

  /** GETs a page and returns its HTML and CSRF token. */
  async page(path: string): Promise<{ res: Response; html: string; csrf: string }> {
    const res = await this.get(path);
    const html = await res.text();
    return { res, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '' };
  }

  /** Signs in at /account/login; returns the response to the POST. */
  async signIn(username: string, password = PASSWORD, next?: string): Promise<Response> {
    const { csrf } = await this.page(`/account/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    return this.post('/account/login', { csrf, username, password, next: next ?? '' });
  }
}

export async function signedInClient(server: TestServer, username: string): Promise<WebClient> {
  const client = new WebClient(server.url);
  const res = await client.signIn(username);
  if (res.status !== 303) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  return client;
}

export interface Connection {
  client: RegisteredClient;
  grantId: string;
  refresh: string;
}

/** Registers an agent (unless given one) and lets `username` connect it to the test resource. */
export async function connect(
  server: TestServer,
  username: string,
  client?: RegisteredClient,
  scope = 'mcp:read mcp:write',
): Promise<Connection> {
  const c = client ?? (await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME }));
  const got = await authorize(server.url, { client: c, username, password: PASSWORD, resource: RESOURCE, scope });
  const { status, body } = await redeem(server.url, c, got);
  if (status !== 200) throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  const payload = JSON.parse(Buffer.from(String(body.access_token).split('.')[1] ?? '', 'base64url').toString());
  return { client: c, grantId: payload.grant_id as string, refresh: body.refresh_token as string };
}

export function refresh(server: TestServer, c: Connection): Promise<Response> {
  return tokenRequest(server.url, {
    grant_type: 'refresh_token',
    refresh_token: c.refresh,
    client_id: c.client.client_id,
  });
}

export async function serverWithUsers(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer(env);
  await server.addUser('alice', PASSWORD);
  await server.addUser('bob', PASSWORD);
  await server.addUser('root', PASSWORD, { admin: true });
  await server.addResource(RESOURCE, RESOURCE_NAME);
  return server;
}

/** Audit rows of an event, newest last. */
export async function auditRows(server: TestServer, event: string): Promise<Record<string, unknown>[]> {
  return (await server.sql.all('SELECT * FROM audit_events WHERE event = ? ORDER BY id', [event])) as Record<
    string,
    unknown
  >[];
}
