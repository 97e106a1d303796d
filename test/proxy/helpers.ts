// The whole chain with real parts: an upstream MCP server built with the official SDK (McpServer
// over StreamableHTTPServerTransport) on 127.0.0.1, the real authorization server, a resource
// credential for the revocation feed, and the proxy in front of the upstream.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { decodeJwt, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { providerJwks } from '../../src/provider/keys.js';
import {
  type ProxyConfig,
  proxyConfig,
  type RouteConfig,
  type RunningProxy,
  startProxy,
} from '../../src/proxy/index.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';

export interface Upstream {
  url: string;
  /** Headers of every request that reached the upstream. */
  seen: IncomingHttpHeaders[];
  notes: string[];
  close(): Promise<void>;
}

/** An MCP server with one read-only tool (`read_notes`) and one writing tool (`add_note`). */
export async function startUpstream(opts: { json?: boolean } = {}): Promise<Upstream> {
  const seen: IncomingHttpHeaders[] = [];
  const notes: string[] = ['first note'];
  const transports = new Map<string, StreamableHTTPServerTransport>();

  const newServer = () => {
    const mcp = new McpServer({ name: 'upstream-under-test', version: '1.0.0' });
    mcp.registerTool(
      'read_notes',
      { description: 'Lists the notes', annotations: { readOnlyHint: true } },
      async () => ({ content: [{ type: 'text', text: notes.join('\n') }] }),
    );
    mcp.registerTool(
      'add_note',
      {
        description: 'Adds a note',
        inputSchema: { text: z.string() },
        annotations: { readOnlyHint: false, destructiveHint: false },
      },
      async ({ text }) => {
        notes.push(text);
        return { content: [{ type: 'text', text: `added: ${text}` }] };
      },
    );
    return mcp;
  };

  const http: Server = createServer(async (req, res) => {
    seen.push({ ...req.headers });
    try {
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (!transport) {
        if (typeof sid === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: opts.json === true,
          onsessioninitialized: (id) => void transports.set(id, t),
        });
        t.onclose = () => {
          if (t.sessionId) transports.delete(t.sessionId);
        };
        await newServer().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    seen,
    notes,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => {});
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Chain {
  as: TestServer;
  upstream: Upstream;
  proxy: RunningProxy;
  config: ProxyConfig;
  /** The public resource URI (= the proxy's /mcp). */
  resource: string;
  feed: { id: string; secret: string };
  close(): Promise<void>;
}

export async function startChain(
  opts: {
    route?: Partial<RouteConfig>;
    config?: Partial<Omit<ProxyConfig, 'routes'>>;
    json?: boolean;
    as?: TestServer;
    upstream?: Upstream;
    /** Public resource URI when something (nginx) fronts the proxy; default: the proxy's own /mcp. */
    resource?: string;
  } = {},
): Promise<Chain> {
  const as = opts.as ?? (await startTestServer());
  const upstream = opts.upstream ?? (await startUpstream({ json: opts.json }));
  const port = opts.config?.port ?? (await freePort());
  const resource = opts.resource ?? `http://127.0.0.1:${port}/mcp`;
  await as.addResource(resource, 'Notes MCP');
  const resourceId = (await as.app.stores.resources.findByUri(resource))?.id ?? -1;
  const feed = await as.app.stores.credentials.create(resourceId, { replace: true });
  const config = proxyConfig({
    issuer: as.url,
    feed,
    routes: [{ resource, upstream: upstream.url, ...opts.route }],
    logLevel: (process.env.TEST_LOG_LEVEL ?? 'silent') as ProxyConfig['logLevel'],
    ...opts.config,
    port,
  });
  const proxy = await startProxy(config);
  const chain: Chain = {
    as,
    upstream,
    proxy,
    config,
    resource,
    feed,
    async close() {
      // chain.proxy, not proxy: a test may have replaced it with one of its own.
      await chain.proxy.close();
      if (!opts.upstream) await upstream.close();
      if (!opts.as) await as.close();
    },
  };
  return chain;
}

/** Fails the test if any request that reached the upstream carried an Authorization header. */
export function expectNoAuthorization(upstream: Upstream | undefined): void {
  if (!upstream) return; // setup failed; that failure is reported already
  const leaked = upstream.seen.filter((h) => h.authorization !== undefined || h['proxy-authorization'] !== undefined);
  if (leaked.length > 0) throw new Error(`the upstream saw an Authorization header ${leaked.length} time(s)`);
}

export const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'proxy-test', version: '1' } },
};

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

export const PASSWORD = 'correct horse battery staple';

/** A real access token from the AS: register, log in, consent (keeping `keep`), redeem. */
export async function obtainToken(
  as: TestServer,
  resource: string,
  opts: { username: string; scope?: string; keep?: string[] },
): Promise<{ access: string; clientId: string; grantId: string; sub: string }> {
  const client = await register(as.url, PUBLIC_CLIENT);
  const got = await authorize(as.url, {
    client,
    username: opts.username,
    password: PASSWORD,
    resource,
    scope: opts.scope ?? 'mcp:read mcp:write',
    ...(opts.keep ? { keep: opts.keep } : {}),
  });
  if (!got.code) throw new Error(`no code: ${got.location.href}`);
  const { status, body } = await redeem(as.url, client, got, { resource });
  if (status !== 200) throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  const access = String(body.access_token);
  const claims = decodeJwt(access);
  return { access, clientId: client.client_id, grantId: String(claims.grant_id), sub: String(claims.sub) };
}

/** An agent connected through the chain: registered (unless given), signed in, consented, code redeemed. */
export interface ConnectedAgent {
  client: RegisteredClient;
  consentHtml: string;
  scope: string;
  access: string;
  refresh: string;
}

/** Connects an agent for `username` (alice by default) to the chain's MCP server; fails unless the code is redeemed. */
export async function connectAgent(
  chain: Chain,
  opts: { username?: string; scope?: string; client?: RegisteredClient } = {},
): Promise<ConnectedAgent> {
  const client = opts.client ?? (await register(chain.as.url, PUBLIC_CLIENT));
  const got = await authorize(chain.as.url, {
    client,
    username: opts.username ?? 'alice',
    password: PASSWORD,
    resource: chain.resource,
    scope: opts.scope ?? 'mcp:read mcp:write',
  });
  const { status, body } = await redeem(chain.as.url, client, got, { resource: chain.resource });
  if (status !== 200) throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  return {
    client,
    consentHtml: got.consentHtml ?? '',
    scope: String(body.scope),
    access: String(body.access_token),
    refresh: String(body.refresh_token),
  };
}

/** A refresh-token grant at the chain's authorization server: the status and the JSON body. */
export async function refreshAgent(
  chain: Chain,
  client: RegisteredClient,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await tokenRequest(chain.as.url, {
    grant_type: 'refresh_token',
    refresh_token: token,
    client_id: client.client_id,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * An initialize through the proxy with a session id it never saw, so nothing reaches the upstream:
 * 401 for a refused token, 404 once the token passes.
 */
export async function statusAtProxy(chain: Chain, token: string): Promise<number> {
  const res = await fetch(chain.resource, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, 'mcp-session-id': randomUUID() },
    body: JSON.stringify(INIT),
  });
  await res.body?.cancel();
  return res.status;
}

/** A call to the admin API with an admin token: the status and the JSON body. */
export async function adminApi(
  chain: Chain,
  adminToken: string,
  path: string,
  body?: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${chain.as.url}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Signs arbitrary claims with the AS's own current signing key (for forged-claim refusals). */
export async function forgeWithAsKey(
  as: TestServer,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { keys } = await providerJwks(as.app.stores.keys);
  const jwk = keys.find((k) => k.key_ops === undefined && typeof k.d === 'string');
  if (!jwk) throw new Error('no signing key');
  const key = await importJWK(jwk as JWK, 'ES256');
  return new SignJWT(claims as JWTPayload)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid, ...header })
    .sign(key);
}

/** A logger whose JSON lines the test can read back. */
export function captureLog(): { logger: Logger; lines: Record<string, unknown>[]; raw: () => string } {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines, raw: () => raw };
}

/** Reads a response body to its end; resolves whether it ended cleanly or was cut off. */
export async function drain(res: Response): Promise<'ended' | 'cut'> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) if ((await reader.read()).done) return 'ended';
  } catch {
    return 'cut';
  }
}
