// Which MCP revision a request speaks, and the 2026-07-28 Streamable HTTP rules for it. The proxy
// serves both at once, per request (docs/proxy.md#two-revisions-at-once):
//
// - modern (2026-07-28 and later): stateless, one JSON-RPC request per POST, whose
//   MCP-Protocol-Version, Mcp-Method and Mcp-Name headers mirror the body. Anything that reads the
//   body MUST refuse a mismatch (400, JSON-RPC -32020 HeaderMismatch): an upstream or a load
//   balancer routing on the headers would otherwise run what the proxy never authorized.
// - legacy (2025-11-25 and earlier): initialize, sessions, GET streams, batches.
//
// A request is modern when its MCP-Protocol-Version header names a modern revision, when its body
// carries the per-request `_meta` protocol-version claim (SDK servers classify on the body first),
// or when its method exists only in the modern revision. Any one suffices, so a request an
// upstream could take for modern never escapes the modern checks.
import type { IncomingHttpHeaders } from 'node:http';

export type Revision = 'legacy' | 'modern';

/** The first modern revision; revisions are ISO dates, so string order is time order. */
export const FIRST_MODERN_REVISION = '2026-07-28';
const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';
const MODERN_ONLY_METHODS = new Set(['server/discover', 'subscriptions/listen']);

/**
 * The body field each named method's Mcp-Name header mirrors: tools, prompts and resources from
 * the transport's standard headers; tasks from the tasks binding (the SDK sends and checks them).
 */
const NAME_SOURCE: Readonly<Record<string, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/** JSON-RPC -32020 HeaderMismatch (2026-07-28, basic/transports/streamable-http#server-validation). */
export const HEADER_MISMATCH = -32020;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Compared as strings, as MCP SDK servers compare: a value that is no date at all ("garbage")
 * sorts after every date and counts as modern, so it gets the stricter checks, never fewer.
 */
export const isModernVersion = (v: string | undefined): boolean => v !== undefined && v >= FIRST_MODERN_REVISION;

/** One header's value, or undefined when absent. Repeated headers arrive joined and never match. */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a header value that may use the `=?base64?…?=` sentinel (Value Encoding): the decoded
 * UTF-8 text, the value itself when not encoded, or undefined when the encoding is invalid.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const b64 = value.slice('=?base64?'.length, -'?='.length);
  if (!BASE64.test(b64)) return undefined;
  try {
    return UTF8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

function claimOf(message: unknown): { present: boolean; version: unknown } {
  if (!isObject(message) || !isObject(message.params) || !isObject(message.params._meta)) {
    return { present: false, version: undefined };
  }
  const meta = message.params._meta;
  return { present: PROTOCOL_VERSION_META in meta, version: meta[PROTOCOL_VERSION_META] };
}

/** The revision of a request: its HTTP method, headers and (for a POST) its parsed body. */
export function classifyRevision(httpMethod: string, headers: IncomingHttpHeaders, body?: unknown): Revision {
  if (isModernVersion(header(headers, 'mcp-protocol-version'))) return 'modern';
  if (httpMethod !== 'POST') return 'legacy';
  const messages = Array.isArray(body) ? body : [body];
  for (const m of messages) {
    if (claimOf(m).present) return 'modern';
    if (isObject(m) && typeof m.method === 'string' && MODERN_ONLY_METHODS.has(m.method)) return 'modern';
  }
  return 'legacy';
}

/** The refusal's JSON-RPC code: -32020 for headers that disagree, -32600 for a body not allowed. */
export type HeaderCheck = { ok: true } | { ok: false; code: number; message: string };

const mismatch = (message: string): HeaderCheck => ({
  ok: false,
  code: HEADER_MISMATCH,
  message: `Header mismatch: ${message}`,
});
const invalid = (message: string): HeaderCheck => ({ ok: false, code: -32600, message: `Invalid Request: ${message}` });

/**
 * Checks a POST's mirrored headers against its parsed body. Modern requests must carry
 * MCP-Protocol-Version and Mcp-Method (and Mcp-Name where the body names something); on either
 * revision a header that is present must match the body exactly, after decoding. Messages never
 * echo header values back: they may be anything a client sent.
 */
export function checkMirroredHeaders(revision: Revision, headers: IncomingHttpHeaders, body: unknown): HeaderCheck {
  const version = header(headers, 'mcp-protocol-version');
  const method = header(headers, 'mcp-method');
  const name = header(headers, 'mcp-name');
  if (Array.isArray(body)) {
    if (revision === 'modern') return invalid('JSON-RPC batches are not part of this protocol revision');
    // One header cannot mirror several messages.
    return method === undefined && name === undefined
      ? { ok: true }
      : mismatch('Mcp-Method and Mcp-Name cannot describe a batch');
  }
  if (!isObject(body) || typeof body.method !== 'string') {
    if (revision === 'modern') return invalid('only JSON-RPC requests and notifications may be sent');
    return method === undefined && name === undefined ? { ok: true } : mismatch('the body is not a request');
  }
  const isRequest = 'id' in body;
  if (revision === 'modern') {
    const claim = claimOf(body);
    if (version === undefined && isRequest) return mismatch('the MCP-Protocol-Version header is missing');
    if (version !== undefined && claim.present && claim.version !== version) {
      return mismatch('MCP-Protocol-Version does not match the protocol version in _meta');
    }
    if (method === undefined && isRequest) return mismatch('the Mcp-Method header is missing');
  }
  if (method !== undefined && method !== body.method) return mismatch('Mcp-Method does not match the method');
  const field = Object.hasOwn(NAME_SOURCE, body.method) ? NAME_SOURCE[body.method] : undefined;
  const params = isObject(body.params) ? body.params : {};
  const bodyName = field !== undefined && typeof params[field] === 'string' ? (params[field] as string) : undefined;
  if (name === undefined) {
    return revision === 'modern' && isRequest && bodyName !== undefined
      ? mismatch('the Mcp-Name header is missing')
      : { ok: true };
  }
  const decoded = decodeHeaderValue(name);
  if (decoded === undefined) return mismatch('Mcp-Name has an invalid Base64 value');
  // A name the body does not carry is a mismatch too: something downstream may route on it.
  if (decoded !== bodyName) return mismatch(`Mcp-Name does not match params.${field ?? 'name'}`);
  return { ok: true };
}

/** The tool or thing an Mcp-Name header names, decoded, when the request's headers say modern. */
export function headerNamed(headers: IncomingHttpHeaders): { method?: string; name?: string } | undefined {
  if (!isModernVersion(header(headers, 'mcp-protocol-version'))) return undefined;
  const method = header(headers, 'mcp-method');
  const raw = header(headers, 'mcp-name');
  const name = raw === undefined ? undefined : decodeHeaderValue(raw);
  return { ...(method !== undefined && { method }), ...(name !== undefined && { name }) };
}
