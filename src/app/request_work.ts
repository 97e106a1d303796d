// Work that oidc-provider's event listeners start during a request (the audit row of a token, the
// grant's and the agent's "last used", the record of a revocation the provider carried out).
//
// oidc-provider emits its events synchronously and does not wait for listeners, so an async
// listener's writes would otherwise finish whenever they finish: after the response (an
// acknowledged token whose audit row a crash could still lose), or after the request's
// transaction has committed (src/app/token_transaction.ts), where a statement that still
// believes itself inside that transaction could land in another request's. Listeners hand their
// promise to `duringRequest`; the request waits for it with `settleRequestWork` before its
// transaction commits and before it answers.
import type { Middleware } from 'koa';

const pending = new WeakMap<object, Set<Promise<unknown>>>();

/**
 * Ties `work` to the request `ctx` (the Koa context). Work must handle its own errors (log them):
 * a listener's failure is never the agent's. Without a request (a listener fired outside one), the
 * work runs on its own; its errors are still the caller's to handle.
 */
export function duringRequest(ctx: object | undefined, work: Promise<unknown>): void {
  if (!ctx) return;
  let set = pending.get(ctx);
  if (!set) {
    set = new Set();
    pending.set(ctx, set);
  }
  // The listener has logged its own failure; what is waited for is only that it is over.
  const tracked: Promise<unknown> = work.then(
    () => set.delete(tracked),
    () => set.delete(tracked),
  );
  set.add(tracked);
}

/** Waits for every piece of work tied to ctx, including work started while waiting. */
export async function settleRequestWork(ctx: object): Promise<void> {
  const set = pending.get(ctx);
  while (set && set.size > 0) await Promise.all([...set]);
}

/** For every request: the response goes out once the listeners' writes are done. */
export const awaitRequestWork: Middleware = async (ctx, next) => {
  try {
    await next();
  } finally {
    await settleRequestWork(ctx);
  }
};
