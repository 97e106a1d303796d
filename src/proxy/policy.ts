// Tool-level scope policy. The proxy reads the JSON-RPC body: protocol methods need the route's
// read scope; tools/call needs the read scope for a read-only tool and the write scope otherwise.
// Read-only comes from the route's configuration, else from the upstream's own `readOnlyHint` seen
// in tools/list, else the tool is treated as writing. Unknown methods also need the write scope.
// The tables cover both revisions the proxy serves (2025-11-25 and 2026-07-28, see revision.ts).
import type { RouteConfig } from '../config/proxy.js';

/**
 * Methods that only read (or negotiate the protocol), in either revision. Besides these, every
 * `…/list` method and every notification is a read.
 */
const READ_METHODS = new Set([
  'initialize',
  'ping',
  'server/discover',
  'subscriptions/listen',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/result',
]);

/**
 * Methods that act on a running task: the task may be a writing tool's, and the proxy cannot tell
 * whose it is from a task id, so they need the write scope (as unknown methods do; listed so the
 * choice is deliberate, not a fall-through).
 */
const TASK_ACTIONS = new Set(['tasks/update', 'tasks/cancel']);

export interface Call {
  /** JSON-RPC method, or `response` for the client's answers to server requests. */
  method: string;
  tool: string | undefined;
  /** Request id when the message is a request (for matching the tools/list answer). */
  id: string | number | undefined;
  needs: string;
}

export type ParsedBody =
  | { ok: true; calls: Call[]; batch: boolean; toolsListIds: (string | number)[] }
  | { ok: false; code: number; message: string };

export interface ToolPolicy {
  readonly route: RouteConfig;
  isReadOnly(tool: string): boolean;
  /** Records what a tools/list answer says about each tool. */
  learn(result: unknown): void;
  classify(body: unknown): ParsedBody;
  /** The scopes a set of calls needs. */
  canCall(tool: string, scopes: ReadonlySet<string>): boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string | number =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

const MAX_LEARNED = 10_000;

export function createToolPolicy(route: RouteConfig): ToolPolicy {
  const configuredRead = new Set(route.readOnlyTools);
  const configuredWrite = new Set(route.writeTools);
  const learned = new Map<string, boolean>();

  const isReadOnly = (tool: string) => {
    if (configuredWrite.has(tool)) return false;
    if (configuredRead.has(tool)) return true;
    return learned.get(tool) === true;
  };

  const classifyOne = (msg: unknown): Call | { code: number; message: string } => {
    if (!isObject(msg) || msg.jsonrpc !== '2.0') return { code: -32600, message: 'Invalid Request' };
    if (typeof msg.method !== 'string') {
      // A response to a server-initiated request (sampling, elicitation, roots).
      if (('result' in msg || 'error' in msg) && isId(msg.id)) {
        return { method: 'response', tool: undefined, id: undefined, needs: route.readScope };
      }
      return { code: -32600, message: 'Invalid Request' };
    }
    const method = msg.method;
    if (msg.id !== undefined && !isId(msg.id)) return { code: -32600, message: 'Invalid Request' };
    const id = isId(msg.id) ? msg.id : undefined;
    if (method === 'tools/call') {
      const name = isObject(msg.params) && typeof msg.params.name === 'string' ? msg.params.name : undefined;
      const needs = name !== undefined && isReadOnly(name) ? route.readScope : route.writeScope;
      return { method, tool: name, id, needs };
    }
    const read =
      !TASK_ACTIONS.has(method) &&
      (READ_METHODS.has(method) || method.endsWith('/list') || method.startsWith('notifications/'));
    return { method, tool: undefined, id, needs: read ? route.readScope : route.writeScope };
  };

  return {
    route,
    isReadOnly,
    canCall: (tool, scopes) => scopes.has(isReadOnly(tool) ? route.readScope : route.writeScope),
    learn(result) {
      if (!route.learnReadOnlyHints || !isObject(result) || !Array.isArray(result.tools)) return;
      for (const tool of result.tools) {
        if (!isObject(tool) || typeof tool.name !== 'string') continue;
        if (!learned.has(tool.name) && learned.size >= MAX_LEARNED) continue;
        const hint = isObject(tool.annotations) && tool.annotations.readOnlyHint === true;
        learned.set(tool.name, hint);
      }
    },
    classify(body) {
      const batch = Array.isArray(body);
      const messages = batch ? body : [body];
      if (messages.length === 0) return { ok: false, code: -32600, message: 'Invalid Request: empty batch' };
      if (messages.length > 1000) return { ok: false, code: -32600, message: 'Invalid Request: batch too large' };
      const calls: Call[] = [];
      const toolsListIds: (string | number)[] = [];
      for (const m of messages) {
        const c = classifyOne(m);
        if ('code' in c) return { ok: false, ...c };
        calls.push(c);
        if (c.method === 'tools/list' && c.id !== undefined) toolsListIds.push(c.id);
      }
      return { ok: true, calls, batch, toolsListIds };
    },
  };
}

/** Filters a tools/list result down to the tools `scopes` may call. */
export function filterToolsResult(policy: ToolPolicy, result: unknown, scopes: ReadonlySet<string>): unknown {
  if (!isObject(result) || !Array.isArray(result.tools)) return result;
  return {
    ...result,
    tools: result.tools.filter((t) => isObject(t) && typeof t.name === 'string' && policy.canCall(t.name, scopes)),
  };
}

/**
 * Learns from (and optionally filters) one JSON-RPC message sent by the upstream. Returns the
 * message to pass on, or undefined when it was left unchanged.
 */
export function observeUpstreamMessage(
  policy: ToolPolicy,
  message: unknown,
  toolsListIds: ReadonlySet<string | number>,
  filterFor: ReadonlySet<string> | undefined,
): unknown | undefined {
  const one = (m: unknown): unknown | undefined => {
    if (!isObject(m) || !isId(m.id) || !toolsListIds.has(m.id) || !('result' in m)) return undefined;
    policy.learn(m.result);
    if (!filterFor) return undefined;
    return { ...m, result: filterToolsResult(policy, m.result, filterFor) };
  };
  if (Array.isArray(message)) {
    let changed = false;
    const out = message.map((m) => {
      const r = one(m);
      if (r === undefined) return m;
      changed = true;
      return r;
    });
    return changed ? out : undefined;
  }
  return one(message);
}
