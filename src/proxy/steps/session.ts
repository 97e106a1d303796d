// Sessions are not authentication (MCP security best practices): a session id is honoured only
// with a token of the user and agent whose request created it, and never adopted when the proxy
// did not see it created. The 2026-07-28 revision has no sessions: a stray Mcp-Session-Id on a
// modern request is ignored (never checked, forwarded or echoed; see forward.ts and relay.ts).
import type { ProxyContext } from '../context.js';
import { deny, type Exchange, jsonRpcError } from '../exchange.js';
import type { Step } from '../pipeline.js';

export function bindSession(ctx: ProxyContext): Step {
  return async (x, next) => {
    const sessionId = x.req.headers['mcp-session-id'];
    const token = x.token;
    if (x.revision === undefined) throw new Error('bindSession runs once the revision is known');
    if (typeof sessionId === 'string' && token && x.revision === 'legacy') {
      const bound = ctx.sessions.check(sessionId, { sub: token.sub, clientId: token.clientId });
      if (bound === 'mismatch') {
        return deny(x, 'session_mismatch', () =>
          jsonRpcError(x.res, 403, -32001, 'this session belongs to another user or agent'),
        );
      }
      if (bound === 'unknown') {
        // It might be someone else's session the proxy never saw created.
        return deny(x, 'session_unknown', () => jsonRpcError(x.res, 404, -32001, 'Session not found'));
      }
    }
    await next();
  };
}

/** After the upstream answered: a new session belongs to this token's user and agent; an ended one is forgotten. */
export function recordSession(ctx: ProxyContext, x: Exchange, status: number, created: unknown): void {
  if (x.revision === 'modern') return;
  const sessionId = x.req.headers['mcp-session-id'];
  if (typeof created === 'string' && status < 300 && created !== sessionId && x.token) {
    ctx.sessions.bind(created, { sub: x.token.sub, clientId: x.token.clientId });
  }
  if (typeof sessionId === 'string' && (status === 404 || (x.method === 'DELETE' && status < 300))) {
    ctx.sessions.drop(sessionId);
  }
}
