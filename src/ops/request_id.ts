// Request ids: one per request, echoed in the X-Request-Id response header and attached to every
// log line written while the request is handled. A sane id from the caller (the resource proxy, a
// load balancer) is kept so one id follows the request across services; anything else is replaced.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { type Logger, withRequestId } from '../log/logger.js';
import { routeLabel } from './route_label.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

// Short, and only characters that are harmless in headers, logs and terminals.
const SANE_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/;

// Probes and scrapes arrive every few seconds: their access lines are debug, not info.
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

export function acceptedRequestId(header: string | undefined): string | undefined {
  return header !== undefined && SANE_ID.test(header) ? header : undefined;
}

/**
 * First in the chain. Writes one access line per request when its response is finished: method,
 * route template (not the path: interaction ids and client ids stay out of the access log), status
 * and duration. Query strings, headers and bodies are never logged.
 */
export function requestContext(log: Logger): Middleware {
  return (ctx, next) => {
    const id = acceptedRequestId(ctx.get(REQUEST_ID_HEADER) || undefined) ?? randomUUID();
    ctx.state.requestId = id;
    ctx.set(REQUEST_ID_HEADER, id);
    const started = process.hrtime.bigint();
    const { path, method } = ctx;
    ctx.res.once('close', () => {
      const line = {
        reqId: id,
        method,
        route: routeLabel(path, ctx),
        status: ctx.res.statusCode,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        ...(ctx.res.writableFinished ? {} : { aborted: true }),
      };
      if (QUIET.has(path)) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    return withRequestId(id, next);
  };
}
