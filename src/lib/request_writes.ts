// Writes started by code that cannot make the request wait for them: oidc-provider's events are
// synchronous EventEmitter calls, so a listener's database write outlives the listener. Each such
// write joins the request's list, and the request waits for the list before its response goes out
// (`settleRequestWrites`, in front of the provider), so what an event records is there when the
// client gets its answer.
import { AsyncLocalStorage } from 'node:async_hooks';

const pending = new AsyncLocalStorage<Promise<void>[]>();

/**
 * Lets the current request wait for `work`; a failure goes to `onError`, never to the request.
 * Outside a request the work still runs, with its failure reported the same way.
 */
export function trackRequestWrite(work: Promise<unknown>, onError: (err: unknown) => void): void {
  const settled = work.then(() => undefined, onError);
  pending.getStore()?.push(settled);
}

/** Runs `next` (the rest of the request), then waits for every write it started. */
export async function settleRequestWrites(next: () => Promise<unknown>): Promise<void> {
  const list: Promise<void>[] = [];
  try {
    await pending.run(list, next);
  } finally {
    // Each entry reports its own failure, so this never throws; writes that start more writes are
    // waited for too.
    for (let i = 0; i < list.length; i++) await list[i];
  }
}
