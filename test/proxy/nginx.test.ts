// The two nginx examples in examples/nginx/, run as written (only addresses and certificate paths
// substituted) by Debian's nginx as a child process with a temporary prefix on 127.0.0.1:
// TLS termination in front of the proxy, and auth_request with the proxy answering allow/deny.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/proxy/index.js';
import { ath, dpopAgent, proof } from '../dpop/support.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { eventually } from '../support/feed.js';
import {
  type Chain,
  expectNoAuthorization,
  freePort,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
  startUpstream,
  type Upstream,
} from './helpers.js';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/nginx');
const haveNginx = (() => {
  try {
    accessSync(NGINX, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();
// CI installs nginx: there a missing binary is a failure, not a skip.
const skip = !haveNginx && !process.env.CI;

interface Nginx {
  origin: string;
  close(): Promise<void>;
}

async function startNginx(
  example: string,
  subst: Record<string, string>,
  tls: { cert: string; key: string },
): Promise<Nginx> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'mcp-proxy-nginx-'));
  const port = await freePort();
  let server = readFileSync(path.join(EXAMPLES, example), 'utf8')
    .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
    .replace('/etc/letsencrypt/live/mcp.example.com/fullchain.pem', path.join(prefix, 'cert.pem'))
    .replace('/etc/letsencrypt/live/mcp.example.com/privkey.pem', path.join(prefix, 'key.pem'));
  for (const [from, to] of Object.entries(subst)) server = server.replaceAll(from, to);
  writeFileSync(path.join(prefix, 'cert.pem'), tls.cert);
  writeFileSync(path.join(prefix, 'key.pem'), tls.key);
  writeFileSync(path.join(prefix, 'server.conf'), server);
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${path.join(prefix, 'error.log')} warn;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${path.join(prefix, 'access.log')};`,
      `  client_body_temp_path ${path.join(prefix, 'body')};`,
      `  proxy_temp_path ${path.join(prefix, 'proxy')};`,
      `  fastcgi_temp_path ${path.join(prefix, 'fastcgi')};`,
      `  uwsgi_temp_path ${path.join(prefix, 'uwsgi')};`,
      `  scgi_temp_path ${path.join(prefix, 'scgi')};`,
      `  include ${path.join(prefix, 'server.conf')};`,
      '}',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    NGINX,
    ['-e', path.join(prefix, 'error.log'), '-p', prefix, '-c', path.join(prefix, 'nginx.conf')],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const origin = `https://127.0.0.1:${port}`;
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) {
          let log = '';
          try {
            log = readFileSync(path.join(prefix, 'error.log'), 'utf8');
          } catch {}
          throw new Error(`nginx exited: ${stderr} ${log}`);
        }
        return undiciFetch(`${origin}/.well-known/oauth-protected-resource`, { dispatcher: agentFor(tls.cert) })
          .then(() => true)
          .catch(() => false);
      },
      15_000,
      50,
    );
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return {
    origin,
    async close() {
      child.kill('SIGQUIT');
      await exited;
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

const agents = new Map<string, Agent>();
function agentFor(ca: string): Agent {
  let a = agents.get(ca);
  if (!a) {
    a = new Agent({ connect: { ca } });
    agents.set(ca, a);
  }
  return a;
}

describe.skipIf(skip)('nginx examples (Debian nginx, 127.0.0.1)', () => {
  let as: TestServer;
  let upstream: Upstream;
  let tls: { cert: string; key: string };
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    as = await startTestServer();
    await as.addUser('alice', PASSWORD);
    upstream = await startUpstream();
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    tls = { cert: pems.cert, key: pems.private };
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    for (const a of agents.values()) await a.close();
    expectNoAuthorization(upstream);
    await upstream?.close();
    await as?.close();
  });

  const send = (url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
    undiciFetch(url, {
      method: 'POST',
      dispatcher: agentFor(tls.cert),
      headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify(body),
    });

  /** Starts nginx from `example` and a proxy whose public resource is nginx's https /mcp. */
  async function setUp(example: string, config: Partial<Omit<ProxyConfig, 'routes'>> = {}) {
    const proxyPort = await freePort();
    // nginx must know the proxy's port before the proxy (whose resource is nginx's URL) starts.
    const nginx = await startNginx(
      example,
      { '127.0.0.1:8080': `127.0.0.1:${proxyPort}`, '127.0.0.1:3001': new URL(upstream.url).host },
      tls,
    );
    closers.push(() => nginx.close());
    const chain: Chain = await startChain({
      as,
      upstream,
      resource: `${nginx.origin}/mcp`,
      config: { ...config, port: proxyPort },
    });
    closers.push(() => chain.close());
    return { nginx, chain, mcp: `${nginx.origin}/mcp` };
  }

  it('mcp-proxy-tls.conf: TLS in front of the proxy, SSE answers streamed through', async () => {
    const { nginx, chain, mcp } = await setUp('mcp-proxy-tls.conf');
    const meta = await undiciFetch(`${nginx.origin}/.well-known/oauth-protected-resource/mcp`, {
      dispatcher: agentFor(tls.cert),
    });
    expect(meta.status).toBe(200);
    expect(((await meta.json()) as { resource: string }).resource).toBe(`${nginx.origin}/mcp`);

    const none = await send(mcp, undefined, INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain(
      `resource_metadata="${nginx.origin}/.well-known/oauth-protected-resource/mcp"`,
    );

    const t = await obtainToken(as, chain.resource, { username: 'alice', scope: 'mcp:read' });
    const init = await send(mcp, t.access, INIT);
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toContain('text/event-stream');
    expect(await init.text()).toContain('upstream-under-test');
    const sid = init.headers.get('mcp-session-id') ?? '';
    expect(sid).toBeTruthy();
    const headers = { 'mcp-session-id': sid };
    expect((await send(mcp, t.access, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(
      202,
    );
    const list = await send(mcp, t.access, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers);
    expect(await list.text()).toContain('read_notes');
    const read = await send(
      mcp,
      t.access,
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'read_notes' } },
      headers,
    );
    expect(read.status).toBe(200);
    expect(await read.text()).toContain('first note');
    const write = await send(
      mcp,
      t.access,
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
      headers,
    );
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(upstream.seen.at(-1)?.['x-mcp-subject']).toBe(t.sub);
  });

  it('mcp-auth-request.conf: auth_request answers 2xx/401/403 with the identity headers', async () => {
    const { nginx, chain, mcp } = await setUp('mcp-auth-request.conf', { authRequestPath: '/_mcp_proxy/auth' });
    const meta = await undiciFetch(`${nginx.origin}/.well-known/oauth-protected-resource/mcp`, {
      dispatcher: agentFor(tls.cert),
    });
    expect(((await meta.json()) as { resource: string }).resource).toBe(`${nginx.origin}/mcp`);

    const before = upstream.seen.length;
    const none = await send(mcp, undefined, INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain(
      `resource_metadata="${nginx.origin}/.well-known/oauth-protected-resource/mcp"`,
    );
    const bad = await send(mcp, 'forged.token.value', INIT);
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');

    // Without the body the proxy demands read AND write: a read-only token is refused with 403.
    const reader = await obtainToken(as, chain.resource, { username: 'alice', scope: 'mcp:read' });
    const denied = await send(mcp, reader.access, INIT);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(denied.headers.get('www-authenticate')).toContain('scope="mcp:read mcp:write"');
    expect(upstream.seen.length).toBe(before);

    const full = await obtainToken(as, chain.resource, { username: 'alice' });
    const ok = await send(mcp, full.access, INIT, { 'x-mcp-subject': 'forged-admin', 'x-mcp-subject-type': 'client' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('upstream-under-test');
    const seen = upstream.seen.at(-1) ?? {};
    expect(seen['x-mcp-subject']).toBe(full.sub);
    expect(seen['x-mcp-client-id']).toBe(full.clientId);
    expect(seen['x-mcp-scopes']).toBe('mcp:read mcp:write');
    expect(seen['x-mcp-subject-type']).toBe('user');
    expect(seen.authorization).toBeUndefined();

    // Revoked: refused by nginx on the proxy's word within a second.
    await as.app.stores.revocations.revokeGrant(full.grantId, 'admin:nginx-test', Math.floor(Date.now() / 1000));
    await eventually(
      async () => {
        const r = await send(mcp, full.access, INIT);
        await r.text();
        return r.status === 401;
      },
      1000,
      20,
    );
  });
  it('DPoP through both examples: the proof names the public URL, replays are refused, nothing reaches the MCP server', async () => {
    for (const [example, config] of [
      ['mcp-proxy-tls.conf', {}],
      ['mcp-auth-request.conf', { authRequestPath: '/_mcp_proxy/auth' }],
    ] as const) {
      const { chain, mcp } = await setUp(example, config);
      const agent = await dpopAgent(as, chain.resource, { username: 'alice' });
      const token = agent.tokens.access_token;
      const dpop = await proof(agent.key, { htm: 'POST', htu: mcp, ath: ath(token) });
      const ok = await send(mcp, undefined, INIT, { authorization: `DPoP ${token}`, dpop });
      expect(ok.status, example).toBe(200);
      expect(await ok.text()).toContain('upstream-under-test');
      expect(upstream.seen.at(-1)?.dpop, example).toBeUndefined();
      const before = upstream.seen.length;
      const replay = await send(mcp, undefined, INIT, { authorization: `DPoP ${token}`, dpop });
      expect(replay.status, example).toBe(401);
      expect(replay.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
      const asBearer = await send(mcp, token, INIT);
      expect(asBearer.status, example).toBe(401);
      expect(upstream.seen.length).toBe(before);
    }
  });
});
