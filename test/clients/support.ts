// A local HTTPS server serving client ID metadata documents, with a self-signed certificate for
// `localhost` that the authorization server trusts through MCP_OAUTH_CIMD_DEV_CA_FILE, and the
// authorization server configured to allow `localhost` as a development document host. Also the
// same set-up with the resource proxy in front of a real MCP server, for agents taken to a tool call.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generate } from 'selfsigned';
import { type ProxyConfig, proxyConfig, type RunningProxy, startProxy } from '../../src/proxy/index.js';
import type { ResourceScope } from '../../src/storage/resources.js';
import { freePort, startUpstream, type Upstream } from '../proxy/helpers.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { waitFor } from '../support/wait.js';

export interface Served {
  status?: number;
  body: string | Record<string, unknown>;
  headers?: Record<string, string>;
  /** Never answer (the fetch must time out). */
  hang?: boolean;
}

export interface DocumentServer {
  /** https://localhost:PORT */
  origin: string;
  caFile: string;
  serve(pathname: string, doc: Served): string;
  /** How many times each path was fetched. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-cimd-'));
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  } as never);
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, pems.cert);
  const docs = new Map<string, Served>();
  const hits = new Map<string, number>();
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const pathname = new URL(req.url ?? '/', 'https://localhost').pathname;
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1);
    const doc = docs.get(pathname);
    if (!doc) {
      res.writeHead(404).end();
      return;
    }
    if (doc.hang) return;
    const body = typeof doc.body === 'string' ? doc.body : JSON.stringify(doc.body);
    res.writeHead(doc.status ?? 200, { 'content-type': 'application/json', ...doc.headers });
    res.end(body);
  });
  // Both loopback addresses: `localhost` may resolve to either.
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `https://localhost:${port}`;
  return {
    origin,
    caFile,
    hits,
    serve(pathname, doc) {
      docs.set(pathname, doc);
      return `${origin}${pathname}`;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The authorization server, trusting the document server (development settings). */
export function startCimdServer(
  docs: DocumentServer,
  env: Record<string, string> = {},
  opts: Parameters<typeof startTestServer>[1] = {},
): Promise<TestServer> {
  return startTestServer(
    {
      MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS: 'localhost',
      MCP_OAUTH_CIMD_DEV_CA_FILE: docs.caFile,
      ...env,
    },
    opts,
  );
}

/** A metadata document as an agent would publish it at `url`. */
export function documentFor(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: url,
    client_name: 'Document Agent',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

/** The MCP resource the client tests authorize for (registered as "Orders DB"; nothing listens there). */
export const MCP = 'http://127.0.0.1:9/mcp';
export const PASSWORD = 'correct horse battery staple';

export interface CimdSetup {
  docs: DocumentServer;
  server: TestServer;
  close(): Promise<void>;
}

/** A document server and an authorization server trusting it, with the MCP resource and `users` (password PASSWORD). */
export async function startCimdSetup(users: string[] = ['alice']): Promise<CimdSetup> {
  const docs = await startDocumentServer();
  let server: TestServer;
  try {
    server = await startCimdServer(docs);
  } catch (err) {
    await docs.close();
    throw err;
  }
  await server.addResource(MCP, 'Orders DB');
  for (const user of users) await server.addUser(user, PASSWORD);
  return {
    docs,
    server,
    async close() {
      await server.close();
      await docs.close();
    },
  };
}

/** A second MCP server's scopes: with it registered, the AS metadata lists both servers' scopes. */
export const FILES_SCOPES: ResourceScope[] = [
  { scope: 'files:read', description: 'Read files', isDefault: true, isWrite: false },
  { scope: 'files:write', description: 'Change files', isDefault: false, isWrite: true },
];

export interface AgentChain extends CimdSetup {
  /** The MCP server every agent reaches: `upstream` through the proxy, read tool `read_notes`. */
  upstream: Upstream;
  proxy: RunningProxy;
  /** The resource URI of the proxy's `/mcp` route (scopes mcp:*). */
  mcp: string;
  /** The resource URI of the proxy's `/files` route (scopes files:*); undefined with `oneServer`. */
  files: string | undefined;
}

/**
 * startCimdSetup with the resource proxy in front of an SDK-built MCP server: one route, `/mcp`,
 * per registered MCP server, plus `/files` with its own scopes unless `oneServer`. Both routes
 * lead to the same upstream; what differs is the audience and the scopes a token needs.
 */
export async function startAgentChain(opts: { oneServer?: boolean } = {}): Promise<AgentChain> {
  const cleanup: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    const docs = await startDocumentServer();
    cleanup.push(() => docs.close());
    const server = await startCimdServer(docs);
    cleanup.push(() => server.close());
    await server.addUser('alice', PASSWORD);
    const upstream = await startUpstream();
    cleanup.push(() => upstream.close());
    const base = `http://127.0.0.1:${await freePort()}`;
    const mcp = `${base}/mcp`;
    const files = opts.oneServer ? undefined : `${base}/files`;
    await server.addResource(mcp, 'Notes MCP');
    if (files) await server.addResource(files, 'Files', FILES_SCOPES);
    const resourceId = (await server.app.stores.resources.findByUri(mcp))?.id ?? -1;
    const readOnlyTools = ['read_notes'];
    const proxy = await startProxy(
      proxyConfig({
        issuer: server.url,
        feed: await server.app.stores.credentials.create(resourceId, { replace: true }),
        routes: [
          { resource: mcp, upstream: upstream.url, readOnlyTools },
          ...(files
            ? [
                {
                  resource: files,
                  upstream: upstream.url,
                  readScope: 'files:read',
                  writeScope: 'files:write',
                  readOnlyTools,
                },
              ]
            : []),
        ],
        logLevel: (process.env.TEST_LOG_LEVEL ?? 'silent') as ProxyConfig['logLevel'],
        port: Number(new URL(base).port),
      }),
    );
    cleanup.push(() => proxy.close());
    // Until the revocation feed has synced once the proxy refuses every token (fails closed).
    await waitFor(() => proxy.ready(), 'the proxy to be ready');
    return { docs, server, upstream, proxy, mcp, files, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * What an agent does with its access token: connects to `resource` over Streamable HTTP with the
 * MCP SDK client (initialize, initialized), calls the read-only tool and returns its text.
 */
export async function callReadTool(resource: string, accessToken: string): Promise<string> {
  const client = new Client({ name: 'known-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(resource), {
    requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
  });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: 'read_notes' });
    const content = result.content as { type: string; text?: string }[];
    return content.map((c) => c.text ?? '').join('\n');
  } finally {
    await client.close();
  }
}
