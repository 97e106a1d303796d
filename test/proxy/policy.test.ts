// The tool-level scope policy, directly: which scope each JSON-RPC message needs, which bodies are
// refused, what is learnt from tools/list answers, and what the filter hides.
import { describe, expect, it } from 'vitest';
import { proxyConfig, type RouteConfig } from '../../src/proxy/index.js';
import { createToolPolicy, filterToolsResult, observeUpstreamMessage } from '../../src/proxy/policy.js';

const R = 'mcp:read';
const W = 'mcp:write';

function policy(route: Partial<RouteConfig> = {}) {
  const config = proxyConfig({
    issuer: 'https://as.example',
    feed: { id: 'x', secret: 'y' },
    routes: [{ resource: 'https://mcp.example/mcp', upstream: 'http://127.0.0.1:1/mcp', ...route }],
  });
  return createToolPolicy(config.routes[0] as (typeof config.routes)[0]);
}

const call = (name: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name } });
const req = (method: string, id: unknown = 1) => ({ jsonrpc: '2.0', id, method });

describe('tool policy', () => {
  it('classifies each message by the scope it needs', () => {
    const p = policy({ readOnlyTools: ['look'], writeTools: ['hinted_but_writes'] });
    p.learn({ tools: [{ name: 'hinted_but_writes', annotations: { readOnlyHint: true } }] });
    const cases: [name: string, body: unknown, needs: string][] = [
      ['initialize', req('initialize'), R],
      ['ping', req('ping'), R],
      ['tools/list', req('tools/list'), R],
      ['resources/list', req('resources/list'), R],
      ['resources/read', req('resources/read'), R],
      ['resources/subscribe', req('resources/subscribe'), R],
      ['prompts/get', req('prompts/get'), R],
      ['completion/complete', req('completion/complete'), R],
      ['server/discover', req('server/discover'), R],
      ['subscriptions/listen', req('subscriptions/listen'), R],
      ['tasks/get', req('tasks/get'), R],
      ['tasks/result', req('tasks/result'), R],
      ['tasks/list', req('tasks/list'), R],
      ['tasks/update, which may feed a writing task', req('tasks/update'), W],
      ['tasks/cancel, whose task the proxy cannot know', req('tasks/cancel'), W],
      ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }, R],
      ['an answer to a server request', { jsonrpc: '2.0', id: 5, result: {} }, R],
      ['an error answer to a server request', { jsonrpc: '2.0', id: 'x', error: { code: 1, message: 'no' } }, R],
      ['a configured read-only tool', call('look'), R],
      ['a configured write tool, whatever the hint', call('hinted_but_writes'), W],
      ['an unknown tool', call('never_listed'), W],
      ['tools/call without a name', { jsonrpc: '2.0', id: 1, method: 'tools/call' }, W],
      ['a name that is not a string', call(42), W],
      ['an unknown method', req('admin/reset'), W],
      ['sampling sent by the client', req('sampling/createMessage'), W],
    ];
    for (const [name, body, needs] of cases) {
      const r = p.classify(body);
      expect(r.ok, name).toBe(true);
      if (r.ok)
        expect(
          r.calls.map((c) => c.needs),
          name,
        ).toEqual([needs]);
    }
  });

  it('refuses what is not JSON-RPC 2.0', () => {
    const p = policy();
    const cases: [string, unknown][] = [
      ['null', null],
      ['a string', 'x'],
      ['jsonrpc 1.0', { jsonrpc: '1.0', id: 1, method: 'ping' }],
      ['no jsonrpc', { id: 1, method: 'ping' }],
      ['an object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }],
      ['a non-finite id', { jsonrpc: '2.0', id: Number.NaN, method: 'ping' }],
      ['a method that is not a string', { jsonrpc: '2.0', id: 1, method: 7 }],
      ['an answer without an id', { jsonrpc: '2.0', result: {} }],
      ['an empty batch', []],
      ['a batch with one bad message', [req('ping'), { jsonrpc: '2.0' }]],
      ['a batch too large', Array.from({ length: 1001 }, (_, i) => req('ping', i))],
    ];
    for (const [name, body] of cases) expect(p.classify(body).ok, name).toBe(false);
  });

  it('classifies a batch message by message and collects the tools/list ids', () => {
    const p = policy();
    const r = p.classify([req('tools/list', 'a'), call('x', 2), req('tools/list', 3)]);
    expect(r).toMatchObject({ ok: true, batch: true, toolsListIds: ['a', 3] });
    if (r.ok)
      expect(r.calls.map((c) => [c.method, c.tool, c.needs])).toEqual([
        ['tools/list', undefined, R],
        ['tools/call', 'x', W],
        ['tools/list', undefined, R],
      ]);
  });

  it('learns readOnlyHint from tools/list answers only when allowed, and only true means read-only', () => {
    const tools = {
      tools: [
        { name: 'r', annotations: { readOnlyHint: true } },
        { name: 'w', annotations: { readOnlyHint: false } },
        { name: 'quiet' },
        { name: 'truthy', annotations: { readOnlyHint: 'yes' } },
      ],
    };
    const learning = policy();
    const ids = new Set<string | number>([1]);
    observeUpstreamMessage(learning, { jsonrpc: '2.0', id: 1, result: tools }, ids, undefined);
    expect(['r', 'w', 'quiet', 'truthy'].map((t) => learning.isReadOnly(t))).toEqual([true, false, false, false]);
    // An answer to another request id teaches nothing.
    const other = policy();
    observeUpstreamMessage(other, { jsonrpc: '2.0', id: 2, result: tools }, ids, undefined);
    expect(other.isReadOnly('r')).toBe(false);
    const closed = policy({ learnReadOnlyHints: false });
    closed.learn(tools);
    expect(closed.isReadOnly('r')).toBe(false);
  });

  it('filters tools/list down to the tools the scopes may call', () => {
    const p = policy({ readOnlyTools: ['r'] });
    const result = { tools: [{ name: 'r' }, { name: 'w' }, 'junk'], nextCursor: 'c' };
    expect(filterToolsResult(p, result, new Set([R]))).toEqual({ tools: [{ name: 'r' }], nextCursor: 'c' });
    expect(filterToolsResult(p, result, new Set([R, W]))).toEqual({
      tools: [{ name: 'r' }, { name: 'w' }],
      nextCursor: 'c',
    });
    expect(filterToolsResult(p, result, new Set())).toEqual({ tools: [], nextCursor: 'c' });
  });
});
