// Pieces for driving the authorization server with the official MCP TypeScript SDK as the agent:
// an in-memory OAuthClientProvider, a stand-in MCP resource server that publishes RFC 9728
// metadata (there is no proxy yet), and the user's part of the flow done with CookieBrowser.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { CookieBrowser, csrfOf } from './oauth.js';

/** An agent's OAuth state kept in memory, with a log of what the SDK asked of it. */
export class InMemoryOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier: string | undefined;
  lastState: string | undefined;
  /** Every URL the SDK asked the "browser" to open, oldest first. */
  readonly authorizationUrls: URL[] = [];
  /** Every credential set the SDK asked us to forget. */
  readonly invalidated: string[] = [];
  tokenSaves = 0;

  constructor(
    readonly redirectUrl: string,
    private readonly name = 'SDK Test Agent',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    this.lastState = randomBytes(12).toString('base64url');
    return this.lastState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
    this.tokenSaves += 1;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrls.push(url);
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
  }

  /** The URL most recently handed to redirectToAuthorization. */
  lastAuthorizationUrl(): URL {
    const url = this.authorizationUrls.at(-1);
    if (!url) throw new Error('the SDK never asked to open an authorization URL');
    return url;
  }
}

export interface ResourceServer {
  /** Origin, e.g. http://127.0.0.1:1234 */
  origin: string;
  /** The MCP endpoint and RFC 8707 resource indicator: `${origin}/mcp`. */
  resource: string;
  /** The path-based RFC 9728 metadata URL. */
  metadataUrl: string;
  /** Paths requested so far (method and path). */
  hits: string[];
  server: http.Server;
  close(): Promise<void>;
}

export type McpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/**
 * A stand-in MCP server on 127.0.0.1 that publishes RFC 9728 protected resource metadata at the
 * path-based and the root well-known URL. `/mcp` is answered by `onMcp` when given, else 401.
 */
export async function startResourceServer(opts: {
  authorizationServer: string;
  scopes?: string[];
  onMcp?: McpHandler;
}): Promise<ResourceServer> {
  const hits: string[] = [];
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const resource = `${origin}/mcp`;
  const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const metadata = {
    resource,
    authorization_servers: [opts.authorizationServer],
    scopes_supported: opts.scopes ?? ['mcp:read', 'mcp:write'],
    bearer_methods_supported: ['header'],
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', origin).pathname;
    hits.push(`${req.method} ${path}`);
    if (
      req.method === 'GET' &&
      (path === '/.well-known/oauth-protected-resource/mcp' || path === '/.well-known/oauth-protected-resource')
    ) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
      return;
    }
    if (path === '/mcp' && opts.onMcp) {
      Promise.resolve(opts.onMcp(req, res)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
      return;
    }
    if (path === '/mcp') {
      res
        .writeHead(401, {
          'www-authenticate': `Bearer resource_metadata="${metadataUrl}", scope="mcp:read"`,
          'content-type': 'application/json',
        })
        .end('{"error":"invalid_token"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  return {
    origin,
    resource,
    metadataUrl,
    hits,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

export interface UserDecision {
  username: string;
  password: string;
  /** Scopes left ticked on the consent page (default: every offered one). */
  keep?: string[];
  /** Scopes the agent did not ask for, ticked too (posted as `extra_scope`). */
  extra?: string[];
  decision?: 'allow' | 'deny';
  browser?: CookieBrowser;
}

export interface BrowserOutcome {
  /** Where the authorization server finally sent the browser (the agent's redirect URI). */
  location: URL;
  code: string | null;
  consentHtml: string | undefined;
  loginSeen: boolean;
}

/** Follows redirects while they stay on `origin` (compared as origins, not string prefixes). */
async function followWithin(
  browser: CookieBrowser,
  res: Response,
  url: string,
  origin: string,
): Promise<{ res: Response; url: string }> {
  let current = res;
  let at = url;
  for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
    const next = new URL(current.headers.get('location') ?? '', at);
    if (next.origin !== origin) return { res: current, url: next.href };
    at = next.href;
    current = await browser.get(at);
  }
  return { res: current, url: at };
}

/**
 * What the user does in the browser after the agent opened `authorizationUrl`: sign in, decide on
 * the consent page, and follow redirects until the authorization server sends the browser away.
 */
export async function actAsUser(authorizationUrl: URL, as: UserDecision): Promise<BrowserOutcome> {
  const browser = as.browser ?? new CookieBrowser();
  const origin = authorizationUrl.origin;
  let step = await followWithin(browser, await browser.get(authorizationUrl.href), authorizationUrl.href, origin);
  let consentHtml: string | undefined;
  let loginSeen = false;
  for (let i = 0; i < 4 && new URL(step.url).origin === origin; i++) {
    const html = await step.res.text();
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${html.slice(0, 300)}`);
    const csrf = csrfOf(html);
    const page = step.url.split('?')[0] ?? step.url;
    if (html.includes('name="password"')) {
      loginSeen = true;
      const res = await browser.post(`${page}/login`, { csrf, username: as.username, password: as.password });
      if (res.status !== 303) throw new Error(`login failed with ${res.status}: ${(await res.text()).slice(0, 300)}`);
      step = await followWithin(browser, res, `${page}/login`, origin);
    } else {
      // Once the user has decided, the authorization server must not ask again in the same flow.
      if (consentHtml !== undefined)
        throw new Error(`the consent page was shown again after the user decided (at ${step.url})`);
      consentHtml = html;
      const offered = [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '');
      const res = await browser.post(`${page}/consent`, {
        csrf,
        decision: as.decision ?? 'allow',
        scope: as.keep ?? offered,
        ...(as.extra && { extra_scope: as.extra }),
      });
      if (res.status !== 303) throw new Error(`consent failed with ${res.status}: ${(await res.text()).slice(0, 300)}`);
      step = await followWithin(browser, res, `${page}/consent`, origin);
    }
  }
  const location = new URL(step.url);
  if (location.origin === origin)
    throw new Error(`the flow never left the authorization server (stuck at ${step.url})`);
  return { location, code: location.searchParams.get('code'), consentHtml, loginSeen };
}

export interface LoopbackReceiver {
  /** `http://127.0.0.1:<port>/callback` */
  redirectUrl: string;
  /** Query strings of every request that reached /callback, oldest first. */
  received: URL[];
  close(): Promise<void>;
}

/** The agent's loopback redirect listener (RFC 8252 §7.3): records what arrives at /callback. */
export async function startLoopbackReceiver(): Promise<LoopbackReceiver> {
  const received: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/callback') {
      received.push(url);
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!doctype html><title>Done</title><p>You can close this window.</p>');
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    redirectUrl: `http://127.0.0.1:${port}/callback`,
    received,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
