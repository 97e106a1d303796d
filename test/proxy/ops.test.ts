// Operating the proxy: metrics (token-protected or on a separate listener), readiness, failing
// closed when keys or the revocation feed are unavailable, the audit line per MCP call (never the
// token or arguments), tools/list filtering on JSON answers, a static upstream credential, and an
// unreachable upstream.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyConfig, startProxy } from '../../src/proxy/index.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { eventually } from '../support/feed.js';
import {
  type Chain,
  captureLog,
  expectNoAuthorization,
  forgeWithAsKey,
  freePort,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
  startUpstream,
  type Upstream,
} from './helpers.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

const post = (url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(body),
  });

describe('proxy operations', () => {
  let as: TestServer;
  let upstream: Upstream;
  const chains: Chain[] = [];

  beforeAll(async () => {
    as = await startTestServer();
    await as.addUser('alice', PASSWORD);
    upstream = await startUpstream({ json: true });
  });
  afterAll(async () => {
    for (const c of chains) await c.close();
    expectNoAuthorization(upstream);
    await upstream?.close();
    await as?.close();
  });

  const chain = async (opts: Parameters<typeof startChain>[0] = {}) => {
    const c = await startChain({ as, upstream, ...opts });
    chains.push(c);
    return c;
  };

  it('logs one audit line per MCP call with who, what and the decision, never the token or the arguments', async () => {
    const cap = captureLog();
    const c = await chain();
    // startChain started a proxy with its own logger; start one more on the same route with ours.
    await c.proxy.close();
    c.proxy = await startProxy(c.config, { logger: cap.logger });
    const t = await obtainToken(as, c.resource, { username: 'alice', scope: 'mcp:read' });
    const mcp = `${c.proxy.url}/mcp`;
    const init = await post(mcp, t.access, INIT);
    const sid = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    const batch = await post(
      mcp,
      t.access,
      [
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
        {
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'add_note', arguments: { text: 'top-secret-arg' } },
        },
      ],
      { 'mcp-session-id': sid },
    );
    expect(batch.status).toBe(403);
    const list = await post(mcp, t.access, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, { 'mcp-session-id': sid });
    await list.text();
    await (await post(mcp, undefined, INIT)).text();

    const audit =
      (await eventually(() => {
        const lines = cap.lines.filter((l) => l.audit === 'mcp_call');
        return lines.length >= 5 ? lines : undefined;
      })) ?? [];
    expect(audit.map((l) => [l.method, l.tool, l.decision])).toEqual([
      ['initialize', undefined, 'allow'],
      ['tools/list', undefined, 'insufficient_scope'],
      ['tools/call', 'add_note', 'insufficient_scope'],
      ['tools/list', undefined, 'allow'],
      [undefined, undefined, 'no_token'],
    ]);
    const first = audit[0] ?? {};
    expect(first).toMatchObject({ user: t.sub, agent: t.clientId, grant: t.grantId, upstream_status: 200 });
    expect(typeof first.latency_ms).toBe('number');
    expect(typeof first.request_id).toBe('string');
    expect(typeof first.time).toBe('number');
    expect(cap.raw()).not.toContain(t.access);
    expect(cap.raw()).not.toContain(t.access.split('.')[2] ?? 'x');
    expect(cap.raw()).not.toContain('top-secret-arg');
  });

  it('hides the tools a token cannot call from tools/list (JSON answers), learning readOnlyHint from them', async () => {
    const c = await chain({ route: { hideUnauthorizedTools: true } });
    const mcp = `${c.proxy.url}/mcp`;
    const reader = await obtainToken(as, c.resource, { username: 'alice', scope: 'mcp:read' });
    const writer = await obtainToken(as, c.resource, { username: 'alice' });
    const names = async (token: string) => {
      const init = await post(mcp, token, INIT);
      const sid = init.headers.get('mcp-session-id') ?? '';
      await init.text();
      const res = await post(mcp, token, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': sid });
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = (await res.json()) as { result: { tools: { name: string }[] } };
      return { sid, tools: body.result.tools.map((x) => x.name).sort() };
    };
    const r = await names(reader.access);
    expect(r.tools).toEqual(['read_notes']);
    expect((await names(writer.access)).tools).toEqual(['add_note', 'read_notes']);
    // The learnt readOnlyHint lets the reader call the read tool.
    const call = await post(
      mcp,
      reader.access,
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'read_notes' } },
      { 'mcp-session-id': r.sid },
    );
    expect(call.status).toBe(200);
  });

  it('serves /metrics only with the token on the public listener, and on a separate loopback listener', async () => {
    const c = await chain({ config: { metricsToken: METRICS_TOKEN, metricsPort: await freePort() } });
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    (await post(`${c.proxy.url}/mcp`, t.access, INIT)).body?.cancel();
    await post(`${c.proxy.url}/mcp`, undefined, INIT);
    expect((await fetch(`${c.proxy.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${c.proxy.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(`${c.proxy.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/mcp_proxy_decisions_total\{outcome="allow"\} [1-9]/);
    expect(text).toMatch(/mcp_proxy_decisions_total\{outcome="no_token"\} [1-9]/);
    expect(text).toMatch(/mcp_proxy_requests_total\{route="\/mcp",method="POST",status="200"\} [1-9]/);
    expect(text).toMatch(/mcp_proxy_upstream_latency_seconds_count\{route="\/mcp",status="200"\} [1-9]/);
    expect(text).toMatch(/mcp_proxy_keyset_refreshes_total\{result="ok"\} [1-9]/);
    expect(text).toMatch(/mcp_proxy_revocation_feed_lag_seconds \d/);
    expect(c.proxy.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const side = await fetch(c.proxy.metricsUrl ?? '');
    expect(side.status).toBe(200);
    expect(await side.text()).toContain('mcp_proxy_decisions_total');
  });

  it('answers 503 (not 401) and is not ready while the key set cannot be fetched', async () => {
    const deadPort = await freePort();
    const proxy = await startProxy(
      proxyConfig({
        issuer: `http://127.0.0.1:${deadPort}`,
        feed: { id: 'x', secret: 'y' },
        routes: [{ resource: `http://127.0.0.1:${await freePort()}/mcp`, upstream: upstream.url }],
        logLevel: 'silent',
      }),
      { startupWaitMs: 200 },
    );
    try {
      const token = await forgeWithAsKey(as, { sub: 'a', client_id: 'b', iat: 1, exp: 2 });
      const res = await post(`${proxy.url}/mcp`, token, INIT);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await fetch(`${proxy.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
      // Without any token it is still a 401 challenge: discovery keeps working.
      expect((await post(`${proxy.url}/mcp`, undefined, INIT)).status).toBe(401);
    } finally {
      await proxy.close();
    }
  });

  it('fails closed when the revocation feed has been silent for longer than the grace', async () => {
    const c = await chain({ config: { feedGraceSeconds: 0.001 } });
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    // Stale as soon as a millisecond passes without a feed message.
    const res = await eventually(async (): Promise<Response | undefined> => {
      const r = await post(`${c.proxy.url}/mcp`, t.access, INIT);
      if (r.status === 503) return r;
      await r.body?.cancel();
      return undefined;
    });
    expect(res?.status).toBe(503);
    const ready = await fetch(`${c.proxy.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { revocation_feed: false } });
  });

  it('refuses to start when the feed credential is wrong', async () => {
    await expect(
      startProxy(
        proxyConfig({
          issuer: as.url,
          feed: { id: 'rc_nope', secret: 'wrong' },
          routes: [{ resource: `http://127.0.0.1:${await freePort()}/mcp`, upstream: upstream.url }],
          logLevel: 'silent',
        }),
      ),
    ).rejects.toThrow(/credential/);
  });

  it('attaches a static upstream credential instead of the identity headers when configured', async () => {
    const c = await chain({ config: { upstreamCredential: { header: 'x-api-key', value: 'static-upstream-key' } } });
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const before = upstream.seen.length;
    const res = await post(`${c.proxy.url}/mcp`, t.access, INIT, { 'x-api-key': 'client-made-up' });
    expect(res.status).toBe(200);
    const seen = upstream.seen.slice(before);
    expect(seen[0]?.['x-api-key']).toBe('static-upstream-key');
    expect(seen[0]?.['x-mcp-subject']).toBeUndefined();
  });

  it('fetches metadata, keys and the feed from an internal AS URL while checking the public issuer string', async () => {
    const internal = as.url.replace('127.0.0.1', 'localhost');
    const c = await chain({ config: { authorizationServerUrl: internal } });
    expect(c.config.issuer).toBe(as.url);
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const res = await post(`${c.proxy.url}/mcp`, t.access, INIT);
    expect(res.status).toBe(200);
    await res.text();
    const meta = (await (await fetch(`${c.proxy.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      authorization_servers: string[];
    };
    expect(meta.authorization_servers).toEqual([as.url]);
  });

  it('refuses to start when the AS calls itself by another issuer string than configured', async () => {
    await expect(
      startProxy(
        proxyConfig({
          issuer: as.url.replace('127.0.0.1', 'localhost'),
          authorizationServerUrl: as.url,
          feed: { id: 'x', secret: 'y' },
          routes: [{ resource: `http://127.0.0.1:${await freePort()}/mcp`, upstream: upstream.url }],
          logLevel: 'silent',
        }),
      ),
    ).rejects.toThrow(/MCP_PROXY_ISSUER/);
  });

  it('streams server-sent events through as they come, also while filtering tools/list, and times out a silent upstream', async () => {
    const gate: { release?: () => void } = {};
    const releaseUpstream = () => gate.release?.();
    const raw = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const msg = JSON.parse(body) as { id: number; method: string };
        if (msg.method === 'ping') return; // never answers: the proxy must time out
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const tools = [
          { name: 'look', annotations: { readOnlyHint: true } },
          { name: 'touch', annotations: { readOnlyHint: false } },
        ];
        res.write(
          `event: message\nid: 1\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { tools } })}\n\n`,
        );
        gate.release = () => res.end(': bye\n\n');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/mcp`;
    try {
      for (const hide of [false, true]) {
        const c = await chain({
          upstream: { url: rawUrl, seen: [], notes: [], close: async () => {} },
          route: { hideUnauthorizedTools: hide },
          config: { upstreamHeadersTimeoutMs: 300 },
        });
        const t = await obtainToken(as, c.resource, { username: 'alice', scope: 'mcp:read' });
        gate.release = undefined;
        const res = await post(`${c.proxy.url}/mcp`, t.access, { jsonrpc: '2.0', id: 9, method: 'tools/list' });
        expect(res.status).toBe(200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        // The first event arrives while the upstream still holds its response open.
        let text = '';
        while (!text.includes('\n\n')) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        expect(gate.release).toBeDefined();
        const data = JSON.parse(/data: (.*)/.exec(text)?.[1] ?? 'null') as { result: { tools: { name: string }[] } };
        expect(data.result.tools.map((x) => x.name)).toEqual(hide ? ['look'] : ['look', 'touch']);
        expect(text).toContain('id: 1');
        releaseUpstream();
        for (;;) if ((await reader.read()).done) break;

        const slow = await post(`${c.proxy.url}/mcp`, t.access, { jsonrpc: '2.0', id: 10, method: 'ping' });
        expect(slow.status).toBe(504);
      }
    } finally {
      raw.closeAllConnections();
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  it('answers 502 when the upstream is down, and keeps serving', async () => {
    const down = await startUpstream();
    const c = await chain({ upstream: down });
    await down.close();
    const t = await obtainToken(as, c.resource, { username: 'alice' });
    const res = await post(`${c.proxy.url}/mcp`, t.access, INIT);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32603);
    expect((await fetch(`${c.proxy.url}/healthz`)).status).toBe(200);
  });
});
