// Waiting for a condition instead of sleeping: tests poll what they expect to become true, with a
// bound that only decides when to give up. The bound is generous because the suite shares a few
// cores with other work; a passing run never waits for it.

export interface WaitOptions {
  /** Gives up after this long; a failure bound, never an assertion about speed. */
  timeoutMs?: number;
  /** Pause between two checks. */
  intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/**
 * Calls `check` until it returns a truthy value and returns that value. Throws a WaitTimeoutError
 * naming `what` once `timeoutMs` has passed; an error thrown by `check` ends the wait at once (a
 * condition that can no longer come true, such as a child process that exited).
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 15_000, intervalMs = 5 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (performance.now() > deadline) throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
