// Which revision a request speaks, and the header/body cross-check of 2026-07-28, as pure functions
// (the end-to-end behaviour through the proxy is in modern.test.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkMirroredHeaders, classifyRevision, decodeHeaderValue } from '../../src/proxy/revision.js';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
const call = (name: string, meta = true) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name, ...(meta && { _meta: META }) },
});

describe('classifyRevision', () => {
  const cases: [string, string, IncomingHttpHeaders, unknown, 'legacy' | 'modern'][] = [
    ['a modern version header', 'POST', { 'mcp-protocol-version': '2026-07-28' }, call('x', false), 'modern'],
    ['a later version header', 'POST', { 'mcp-protocol-version': '2027-01-01' }, call('x', false), 'modern'],
    ['a _meta claim without the header', 'POST', {}, call('x'), 'modern'],
    ['a _meta claim behind a legacy header', 'POST', { 'mcp-protocol-version': '2025-11-25' }, call('x'), 'modern'],
    ['server/discover alone', 'POST', {}, { jsonrpc: '2.0', id: 1, method: 'server/discover' }, 'modern'],
    ['subscriptions/listen alone', 'POST', {}, { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen' }, 'modern'],
    ['a modern message hidden in a batch', 'POST', {}, [{ jsonrpc: '2.0', method: 'ping' }, call('x')], 'modern'],
    [
      'initialize',
      'POST',
      { 'mcp-protocol-version': '2025-11-25' },
      { jsonrpc: '2.0', id: 1, method: 'initialize' },
      'legacy',
    ],
    ['a legacy call', 'POST', { 'mcp-protocol-version': '2025-06-18' }, call('x', false), 'legacy'],
    ['no header at all', 'POST', {}, call('x', false), 'legacy'],
    ['the GET stream', 'GET', { 'mcp-protocol-version': '2025-11-25' }, undefined, 'legacy'],
    ['a GET claiming modern', 'GET', { 'mcp-protocol-version': '2026-07-28' }, undefined, 'modern'],
    [
      'a version that is no date (stricter checks)',
      'POST',
      { 'mcp-protocol-version': 'garbage' },
      call('x', false),
      'modern',
    ],
  ];
  for (const [name, method, headers, body, want] of cases) {
    it(name, () => expect(classifyRevision(method, headers, body)).toBe(want));
  }
});

describe('decodeHeaderValue', () => {
  it('decodes the Base64 sentinel and refuses a broken one', () => {
    expect(decodeHeaderValue('plain')).toBe('plain');
    expect(decodeHeaderValue('=?base64?SGVsbG8sIOS4lueVjA==?=')).toBe('Hello, 世界');
    expect(decodeHeaderValue('=?base64?not base64?=')).toBeUndefined();
    expect(decodeHeaderValue('=?base64?/w==?=')).toBeUndefined(); // not UTF-8
  });
});

describe('checkMirroredHeaders', () => {
  const modern = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'read',
    ...extra,
  });
  it('accepts headers that mirror the body, encoded or not', () => {
    expect(checkMirroredHeaders('modern', modern(), call('read')).ok).toBe(true);
    expect(checkMirroredHeaders('modern', modern({ 'mcp-name': '=?base64?cmVhZA==?=' }), call('read')).ok).toBe(true);
    const uri = { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'file:///a b', _meta: META } };
    const h = modern({
      'mcp-method': 'resources/read',
      'mcp-name': `=?base64?${Buffer.from('file:///a b').toString('base64')}?=`,
    });
    expect(checkMirroredHeaders('modern', h, uri).ok).toBe(true);
    // A modern notification needs no headers.
    expect(
      checkMirroredHeaders(
        'modern',
        { 'mcp-protocol-version': '2026-07-28' },
        { jsonrpc: '2.0', method: 'notifications/x' },
      ).ok,
    ).toBe(true);
    // Legacy requests need none, and may carry matching ones.
    expect(checkMirroredHeaders('legacy', {}, call('read', false)).ok).toBe(true);
    expect(
      checkMirroredHeaders('legacy', { 'mcp-method': 'tools/call', 'mcp-name': 'read' }, call('read', false)).ok,
    ).toBe(true);
  });

  const refused: [string, 'legacy' | 'modern', IncomingHttpHeaders, unknown, number][] = [
    ['another method', 'modern', modern({ 'mcp-method': 'tools/list' }), call('read'), -32020],
    ['another tool', 'modern', modern({ 'mcp-name': 'write' }), call('read'), -32020],
    ['a repeated method header', 'modern', modern({ 'mcp-method': 'tools/call, tools/call' }), call('read'), -32020],
    ['no Mcp-Method', 'modern', modern({ 'mcp-method': undefined }), call('read'), -32020],
    ['no Mcp-Name', 'modern', modern({ 'mcp-name': undefined }), call('read'), -32020],
    ['no version header', 'modern', modern({ 'mcp-protocol-version': undefined }), call('read'), -32020],
    [
      'a version other than _meta says',
      'modern',
      modern({ 'mcp-protocol-version': '2027-01-01' }),
      call('read'),
      -32020,
    ],
    ['a broken encoding', 'modern', modern({ 'mcp-name': '=?base64?%%?=' }), call('read'), -32020],
    [
      'a name on a nameless method',
      'modern',
      modern({ 'mcp-method': 'tools/list' }),
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } },
      -32020,
    ],
    [
      'a task id that differs',
      'modern',
      modern({ 'mcp-method': 'tasks/cancel', 'mcp-name': 't1' }),
      { jsonrpc: '2.0', id: 1, method: 'tasks/cancel', params: { taskId: 't2', _meta: META } },
      -32020,
    ],
    ['a modern batch', 'modern', modern(), [call('read')], -32600],
    ['a posted response', 'modern', modern(), { jsonrpc: '2.0', id: 1, result: {} }, -32600],
    ['a legacy request whose header disagrees', 'legacy', { 'mcp-method': 'tools/list' }, call('read', false), -32020],
    ['a legacy batch with a mirrored header', 'legacy', { 'mcp-method': 'tools/call' }, [call('read', false)], -32020],
  ];
  for (const [name, revision, headers, body, code] of refused) {
    it(`refuses ${name}`, () => {
      const r = checkMirroredHeaders(revision, headers, body);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe(code);
    });
  }
});
