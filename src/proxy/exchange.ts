// The one object every step of the proxy works on: the request, the route it is for, and what the
// steps learnt and decided along the way (the token, the JSON-RPC calls, the outcome, the upstream's
// answer). The audit record is written from it, once, when the exchange ends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import type { RouteConfig } from '../config/proxy.js';
import type { Call, ToolPolicy } from './policy.js';
import type { Revision } from './revision.js';
import type { VerifiedToken } from './verifier.js';

export interface Route {
  config: RouteConfig;
  /** The route's path: the resource URI's path, matched exactly. */
  path: string;
  metadataUrl: string;
  /** The RFC 9728 document, serialised once. */
  metadata: string;
  scopes: readonly string[];
  policy: ToolPolicy;
  pool: Pool;
  upstreamPath: string;
}

export type Outcome =
  | 'allow'
  | 'no_token'
  | 'token_in_query'
  | 'invalid_token'
  | 'revoked'
  | 'invalid_dpop_proof'
  | 'dpop_required'
  | 'token_expired'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'tool_denied'
  | 'session_mismatch'
  | 'session_unknown'
  | 'bad_request'
  | 'too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'unavailable'
  | 'upstream_error'
  | 'internal_error';

/** Why the proxy itself ended a stream it had let through. */
export type CloseReason = 'revoked' | 'token_expired';

export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly route: Route;
  /** The HTTP method, or `auth_request` for nginx's subrequest. */
  readonly method: string;
  /** The query string as received (`?…` or empty): forwarded as is. */
  readonly search: string;
  token?: VerifiedToken;
  body?: Buffer;
  /** The MCP revision the request speaks; known once the body is read (see revision.ts). */
  revision?: Revision;
  calls?: Call[];
  /** Request ids of tools/list calls, whose answers the proxy learns from. */
  toolsListIds: (string | number)[];
  /** The scopes this exchange needs; set before the scope check. */
  needs?: readonly string[];
  outcome: Outcome;
  /** The upstream's answer, between the forward and relay steps. */
  upstream?: Dispatcher.ResponseData;
  /** Aborts the upstream request (the client went away, or the proxy ended the stream). */
  abort?: AbortController;
  upstreamStatus?: number;
  latencyMs?: number;
  closed?: CloseReason;
}

export function newExchange(
  req: IncomingMessage,
  res: ServerResponse,
  init: { requestId: string; route: Route; method: string; search: string; needs?: readonly string[] },
): Exchange {
  return { req, res, ...init, toolsListIds: [], outcome: 'allow' };
}

export const quote = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;

export function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra }).end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
  res.end(JSON.stringify(value));
}

/** Records the outcome and answers; the step then returns without calling next. */
export function deny(x: Exchange, outcome: Outcome, answer: () => void): void {
  x.outcome = outcome;
  answer();
}
