// RFC 8628 §3.5: a device polling /token faster than its interval gets `slow_down`, and its interval
// grows by 5 seconds for this and every later poll. oidc-provider has the error but no pacing. The
// pace is kept in memory per device code (a SHA-256 of it, never the code): a restart or another
// node forgets it, which only ever lets one poll through early.
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import { DEVICE_CODE_TTL } from '../provider/index.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: the interval a client uses when the response names none. */
export const DEFAULT_INTERVAL_SECONDS = 5;
const MAX_TRACKED = 10_000;

interface Pace {
  last: number;
  interval: number;
  forgetAt: number;
}

export function devicePolling(opts: { tokenPath: string; now?: (() => number) | undefined }): Middleware {
  const clock = opts.now ?? Date.now;
  const paces = new Map<string, Pace>();

  const prune = (now: number) => {
    for (const [k, p] of paces) if (p.forgetAt <= now) paces.delete(k);
    // Still full (a flood of made-up codes): the oldest go first (a Map keeps insertion order).
    for (const k of paces.keys()) {
      if (paces.size < MAX_TRACKED) break;
      paces.delete(k);
    }
  };

  return async (ctx, next) => {
    const params = ctx.state.tokenParams as URLSearchParams | undefined;
    const code = ctx.path === opts.tokenPath ? params?.get('device_code') : undefined;
    if (!code || params?.get('grant_type') !== DEVICE_CODE_GRANT) return next();
    const key = createHash('sha256').update(code).digest('base64url');
    const now = clock();
    const pace = paces.get(key);
    if (!pace) {
      if (paces.size >= MAX_TRACKED) prune(now);
      paces.set(key, { last: now, interval: DEFAULT_INTERVAL_SECONDS, forgetAt: now + DEVICE_CODE_TTL * 1000 });
      return next();
    }
    const early = now - pace.last < pace.interval * 1000;
    pace.last = now;
    if (!early) return next();
    pace.interval += 5;
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'slow_down',
      error_description: `polling too fast: wait at least ${pace.interval} seconds between requests`,
    };
  };
}
