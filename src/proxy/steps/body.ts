// The request body of a POST: bounded, JSON only, parsed once, its MCP revision found and its
// mirrored headers checked against it (revision.ts), then classified by the route's tool policy
// into the calls it makes and the scopes they need. GET (the event stream) and DELETE (end of
// session) are legacy-only and need the read scope.
import type { IncomingMessage } from 'node:http';
import type { ProxyContext } from '../context.js';
import { deny, jsonRpcError } from '../exchange.js';
import type { Step } from '../pipeline.js';
import { checkMirroredHeaders, classifyRevision } from '../revision.js';

/** Reads the request body up to `limit` bytes; resolves undefined when it is larger. */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('client aborted')));
  });
}

export function readBody(ctx: ProxyContext): Step {
  const limit = ctx.config.maxBodyBytes;
  const tooLarge = () => ({ connection: 'close' });
  return async (x, next) => {
    const { req, res } = x;
    if (x.method !== 'POST') {
      x.revision = classifyRevision(x.method, req.headers);
      if (x.revision === 'modern') {
        // 2026-07-28 has no GET stream and no sessions to delete.
        return deny(x, 'method_not_allowed', () =>
          jsonRpcError(res, 405, -32000, 'method not allowed in this protocol revision', { allow: 'POST' }),
        );
      }
      x.needs = [x.route.config.readScope];
      return next();
    }
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      return deny(x, 'too_large', () => jsonRpcError(res, 413, -32600, 'request body too large', tooLarge()));
    }
    const ctype = String(req.headers['content-type'] ?? '').toLowerCase();
    if (!/^application\/json\s*(;|$)/.test(ctype)) {
      return deny(x, 'unsupported_media_type', () =>
        jsonRpcError(res, 415, -32600, 'Content-Type must be application/json'),
      );
    }
    let body: Buffer | undefined;
    try {
      body = await readLimited(req, limit);
    } catch {
      return deny(x, 'bad_request', () => res.destroy());
    }
    if (body === undefined) {
      return deny(x, 'too_large', () => jsonRpcError(res, 413, -32600, 'request body too large', tooLarge()));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return deny(x, 'bad_request', () => jsonRpcError(res, 400, -32700, 'Parse error'));
    }
    x.revision = classifyRevision(x.method, req.headers, parsed);
    const mirrored = checkMirroredHeaders(x.revision, req.headers, parsed);
    if (!mirrored.ok) return deny(x, 'bad_request', () => jsonRpcError(res, 400, mirrored.code, mirrored.message));
    const cls = x.route.policy.classify(parsed);
    if (!cls.ok) return deny(x, 'bad_request', () => jsonRpcError(res, 400, cls.code, cls.message));
    x.body = body;
    x.calls = cls.calls;
    x.toolsListIds = cls.toolsListIds;
    x.needs = [...new Set(cls.calls.map((c) => c.needs))];
    await next();
  };
}
