// Property test: random and mutated requests (methods, paths, headers, tokens, JSON-RPC bodies,
// batches) thrown at the proxy over raw HTTP. While the upstream is healthy the proxy never answers
// 5xx, never crashes, and the upstream never sees an Authorization header.
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, expectNoAuthorization, INIT, MCP_HEADERS, obtainToken, PASSWORD, startChain } from './helpers.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** One raw request; reads the answer to its end, or hangs up at once on an event stream (which stays open). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body: Buffer | undefined) {
  return new Promise<RawResponse>((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, method, path, headers, agent: false, timeout: 10_000 },
      (res) => {
        const done = () => {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers });
        };
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) return done();
        res.on('data', () => {});
        res.on('end', done);
        res.on('error', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function mutate(token: string, at: number, ch: string): string {
  const i = at % token.length;
  return token.slice(0, i) + ch + token.slice(i + 1);
}

describe('proxy under random and mutated requests', () => {
  let chain: Chain;
  let reader: string;
  let writer: string;
  let sid: string;

  /** Opens an MCP session as an agent does, and again whenever a request finds it ended (MCP: a 404 means start over). */
  async function newSession(): Promise<void> {
    const res = await fetch(`${chain.proxy.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${writer}` },
      body: JSON.stringify(INIT),
    });
    sid = res.headers.get('mcp-session-id') ?? '';
    await res.text();
    expect(res.status).toBe(200);
    expect(sid).not.toBe('');
    const initialized = await fetch(`${chain.proxy.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${writer}`, 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    await initialized.text();
  }

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser('alice', PASSWORD);
    reader = (await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read' })).access;
    writer = (await obtainToken(chain.as, chain.resource, { username: 'alice' })).access;
    await newSession();
  });
  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await chain?.close();
  });

  it('never answers 5xx and never leaks the token upstream', async () => {
    const id = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.double(), fc.object());
    const toolName = fc.oneof(fc.constantFrom('read_notes', 'add_note', 'unknown'), fc.string({ maxLength: 12 }));
    const method = fc.oneof(
      fc.constantFrom(
        'initialize',
        'ping',
        'tools/list',
        'tools/call',
        'resources/list',
        'resources/read',
        'prompts/get',
        'notifications/initialized',
        'notifications/cancelled',
        'logging/setLevel',
        'completion/complete',
        'sampling/createMessage',
      ),
      fc.string({ maxLength: 20 }),
    );
    const message = fc.oneof(
      fc.record(
        {
          jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), fc.integer()),
          id,
          method,
          params: fc.oneof(
            fc.record({ name: toolName, arguments: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue()) }),
            fc.jsonValue(),
          ),
        },
        { requiredKeys: ['jsonrpc'] },
      ),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), result: fc.jsonValue() }),
      fc.jsonValue(),
    );
    // Well-formed calls often enough that many requests get through to the upstream.
    const wellFormed = fc
      .record({
        id: fc.integer({ min: 1, max: 1000 }),
        method: fc.constantFrom('ping', 'tools/list', 'tools/call', 'resources/list', 'prompts/list'),
        name: toolName,
        text: fc.string({ maxLength: 20 }),
      })
      .map(({ id, method, name, text }) =>
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method,
          params: method === 'tools/call' ? { name, arguments: { text } } : {},
        }),
      );
    const body = fc.oneof(
      { arbitrary: wellFormed, weight: 6 },
      message.map((m) => JSON.stringify(m)),
      fc.array(message, { maxLength: 5 }).map((m) => JSON.stringify(m)),
      fc.string({ maxLength: 200 }),
      fc.constant(JSON.stringify(INIT)),
      fc
        .tuple(fc.constant(JSON.stringify(INIT)), fc.nat(), fc.string({ maxLength: 3 }))
        .map(([s, at, ch]) => s.slice(0, at % s.length) + ch + s.slice((at % s.length) + 1)),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const authorization = fc.oneof(
      { arbitrary: fc.constantFrom(`Bearer ${reader}`, `Bearer ${writer}`), weight: 6 },
      fc.constant(undefined),
      fc.constantFrom(
        `Bearer ${reader}`,
        `Bearer ${writer}`,
        `bearer  ${writer}`,
        'Basic dXNlcjpwYXNz',
        'Bearer',
        'Bearer ',
      ),
      fc
        .tuple(fc.constantFrom(reader, writer), fc.nat(), fc.constantFrom('A', '_', '-', '.', '=', '%', ' '))
        .map(([t, at, ch]) => `Bearer ${mutate(t, at, ch)}`),
      fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
    );
    const path = fc.oneof(
      { arbitrary: fc.constant('/mcp'), weight: 8 },
      fc.constantFrom(
        '/mcp',
        '/mcp?x=1',
        '/mcp?access_token=abc',
        '/mcp/',
        '/MCP',
        '/.well-known/oauth-protected-resource',
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource/%ff',
        '/healthz',
        '/readyz',
        '/metrics',
        '//mcp',
        '*',
      ),
      fc.webPath(),
    );
    const headerValue = fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
    const extra = fc.record(
      {
        'content-type': fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'APPLICATION/JSON',
          '',
        ),
        accept: fc.constantFrom('application/json, text/event-stream', 'text/event-stream', '*/*'),
        'mcp-session-id': fc.oneof({ arbitrary: fc.constant('SID'), weight: 6 }, headerValue),
        // Anything not a 2025 date counts as 2026-07-28 or later (as MCP SDK servers read it), whose
        // requests must carry Mcp-Method: mostly legacy versions, so that enough requests get through.
        'mcp-protocol-version': fc.oneof(
          { arbitrary: fc.constantFrom('2025-06-18', '2025-03-26', '2025-11-25'), weight: 6 },
          fc.constantFrom('garbage', '2026-07-28'),
        ),
        'x-request-id': headerValue,
        'x-mcp-subject': headerValue,
        'x-mcp-scopes': headerValue,
        cookie: headerValue,
      },
      { requiredKeys: [] },
    );
    const upstreamBefore = () => chain.upstream.seen.length;
    const startSeen = upstreamBefore();
    const mutated = fc.record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'HEAD', 'PATCH'),
      path,
      authorization,
      headers: extra,
      body,
    });
    // A fixed share of requests an agent would send (POST /mcp, a valid token, the session, the
    // headers MCP asks for), so that the count reaching the upstream does not hang on how the random
    // headers happened to fall: with every header optional, a run could let only a handful through.
    const agentLike = fc.record({
      method: fc.constant('POST'),
      path: fc.constant('/mcp'),
      authorization: fc.constantFrom(`Bearer ${reader}`, `Bearer ${writer}`),
      headers: fc.record({
        'content-type': fc.constant('application/json'),
        accept: fc.constant('application/json, text/event-stream'),
        'mcp-session-id': fc.constant('SID'),
        'mcp-protocol-version': fc.constant('2025-06-18'),
        'x-request-id': headerValue,
      }),
      body: wellFormed,
    });
    const request = fc.oneof({ arbitrary: mutated, weight: 3 }, { arbitrary: agentLike, weight: 1 });

    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = v === 'SID' ? sid : v;
        if (r.authorization !== undefined) headers.authorization = r.authorization;
        const sendBody = r.method === 'GET' || r.method === 'HEAD' ? undefined : Buffer.from(r.body);
        const res = await raw(chain.proxy.url, r.method, r.path, headers, sendBody);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // A random DELETE may have ended the session; an agent would open a new one.
        if (res.status === 404 && headers['mcp-session-id'] === sid) await newSession();
        expect(res.status, `${r.method} ${r.path}`).toBeGreaterThanOrEqual(200);
        expect(res.status, `${r.method} ${r.path} ${JSON.stringify(r.body).slice(0, 200)}`).toBeLessThan(500);
        expectNoAuthorization(chain.upstream);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 400), seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    // The run reached the upstream (2xx) as well as the refusals, or it proved little.
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect(statuses.get(401)).toBeGreaterThan(0);
    expect(chain.upstream.seen.length - startSeen).toBeGreaterThan(40);
    expect((await fetch(`${chain.proxy.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
