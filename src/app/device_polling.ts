// RFC 8628 §3.5: a device polling /token faster than its interval gets `slow_down`, and its interval
// grows by 5 seconds for this and every later poll. oidc-provider has the error but no pacing. The
// pace is kept in the database per device code (a SHA-256 of it, never the code), so a device
// whose polls a load balancer spreads over several nodes is paced as one.
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import { DEVICE_CODE_TTL } from '../provider/index.js';
import type { ThrottleRepository } from '../storage/throttles.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: the interval a client uses when the response names none. */
export const DEFAULT_INTERVAL_SECONDS = 5;
/** RFC 8628 §3.5: what each `slow_down` adds to the interval. */
const SLOW_DOWN_STEP_SECONDS = 5;

export function devicePolling(opts: {
  tokenPath: string;
  throttles: ThrottleRepository;
  now?: (() => number) | undefined;
}): Middleware {
  const clock = opts.now ?? (() => Date.now());
  return async (ctx, next) => {
    const params = ctx.state.tokenParams as URLSearchParams | undefined;
    const code = ctx.path === opts.tokenPath ? params?.get('device_code') : undefined;
    if (!code || params?.get('grant_type') !== DEVICE_CODE_GRANT) return next();
    const hash = createHash('sha256').update(code).digest('base64url');
    const now = clock();
    const pace = await opts.throttles.devicePoll(hash, now, {
      initial: DEFAULT_INTERVAL_SECONDS,
      step: SLOW_DOWN_STEP_SECONDS,
      forgetAtMs: now + DEVICE_CODE_TTL * 1000,
    });
    if (!pace.slowed) return next();
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'slow_down',
      error_description: `polling too fast: wait at least ${pace.interval} seconds between requests`,
    };
  };
}
