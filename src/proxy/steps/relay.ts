// Passes the upstream's answer back: the allow-listed headers, then the proxy's own (request id,
// CORS) so nothing upstream can replace them. tools/list answers are observed (and filtered) on the
// way; event streams are streamed as they come and registered, so the proxy can end them when the
// token they were opened with is revoked or expires. The step ends when the answer has.
import { pipeline } from 'node:stream';
import type { ProxyContext } from '../context.js';
import { type Exchange, jsonRpcError } from '../exchange.js';
import { relayedResponseHeaders } from '../headers.js';
import { observeJsonBody, sseObserver } from '../observe.js';
import type { Step } from '../pipeline.js';
import { MCP_CORS } from './cors.js';
import { recordSession } from './session.js';
import { withTokenTools } from './tool_labels.js';

const MAX_OBSERVED_BYTES = 16 * 1024 * 1024;

async function readAll(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_OBSERVED_BYTES) throw new Error('upstream answer too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

export function relay(ctx: ProxyContext): Step {
  const { log } = ctx;
  return async (x: Exchange) => {
    const up = x.upstream;
    const token = x.token;
    if (!up || !token) throw new Error('relay runs after forward');
    const res = x.res;
    recordSession(ctx, x, up.statusCode, up.headers['mcp-session-id']);

    if (up.statusCode === 401) {
      // The client's token was accepted here: an upstream 401 refuses the proxy (its credential),
      // and relaying it would make the agent throw away a good token.
      up.body.destroy();
      x.outcome = 'upstream_error';
      log.warn({ request_id: x.requestId }, 'upstream answered 401 to the proxy; check its upstream credential');
      jsonRpcError(res, 502, -32603, 'upstream refused the request', MCP_CORS);
      return;
    }

    const headers: Record<string, string | string[]> = {
      ...relayedResponseHeaders(up.headers),
      'x-request-id': x.requestId,
      ...MCP_CORS,
    };
    // 2026-07-28 has no sessions: never echo one an upstream minted anyway.
    if (x.revision === 'modern') delete headers['mcp-session-id'];
    const type = String(up.headers['content-type'] ?? '');
    const observe = x.toolsListIds.length > 0 && up.statusCode < 300;
    const ids = new Set(x.toolsListIds);
    const filterFor = x.route.config.hideUnauthorizedTools ? token.scopes : undefined;
    // Filtering also drops the tools this token's tool labels refuse (./tool_labels.ts).
    const policy = filterFor ? withTokenTools(x.route.policy, token.tools) : x.route.policy;

    if (observe && type.startsWith('application/json')) {
      // One JSON message: read it (bounded), learn from it, and pass it on.
      let body: Buffer;
      try {
        body = await readAll(up.body);
      } catch (err) {
        log.warn({ request_id: x.requestId, err: (err as Error).message }, 'upstream answer failed');
        jsonRpcError(res, 502, -32603, 'upstream answer failed', MCP_CORS);
        up.body.destroy();
        return;
      }
      const out = observeJsonBody(policy, body, ids, filterFor);
      headers['content-length'] = String(out.length);
      if (out !== body) delete headers['content-encoding'];
      res.writeHead(up.statusCode, headers).end(out);
      return;
    }

    const sse = type.startsWith('text/event-stream');
    if (sse) {
      headers['x-accel-buffering'] = 'no'; // tell nginx in front not to buffer the stream
      headers['cache-control'] ??= 'no-cache';
      // Filtering rewrites the events, so the upstream's length no longer holds: a client would
      // wait for bytes that never come.
      if (observe && filterFor) delete headers['content-length'];
    }
    res.writeHead(up.statusCode, headers);
    if (sse) res.flushHeaders();
    // An event stream lives only as long as the token it was opened with stays good.
    const forget = sse
      ? ctx.streams.add(token, (reason) => {
          x.closed = reason;
          x.outcome = reason;
          log.info({ request_id: x.requestId, reason }, 'event stream ended by the proxy');
          x.abort?.abort();
          res.destroy();
        })
      : undefined;
    try {
      await new Promise<void>((resolve) => {
        const done = (err: Error | null | undefined) => {
          if (err && !x.abort?.signal.aborted) {
            log.debug({ request_id: x.requestId, err: err.message }, 'stream ended early');
          }
          resolve();
        };
        if (observe && sse) pipeline(up.body, sseObserver(policy, ids, filterFor), res, done);
        else pipeline(up.body, res, done);
      });
    } finally {
      forget?.();
    }
  };
}
