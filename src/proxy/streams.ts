// Event streams the proxy let through stay open for as long as the upstream keeps them: minutes or
// hours. A token is checked when the stream opens, so each open stream is remembered with the token
// it was opened with and ended by the proxy when that token stops being good: its grant, user or
// agent revoked (when the revocation reaches the proxy), or the token expired (exp + tolerance).
import type { CloseReason } from './exchange.js';
import type { VerifiedToken } from './verifier.js';

export interface OpenStreams {
  /** Remembers a stream; returns the function that forgets it (call it when the stream ends). */
  add(token: VerifiedToken, close: (reason: CloseReason) => void): () => void;
  /** Ends every open stream whose token `isRevoked` now refuses. */
  sweep(): void;
  size(): number;
}

// setTimeout's longest delay; a later expiry is re-armed when the timer fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

export function createOpenStreams(opts: {
  isRevoked: (token: VerifiedToken) => boolean;
  clockToleranceSeconds: number;
  now?: () => number;
}): OpenStreams {
  const now = opts.now ?? Date.now;
  const open = new Map<symbol, { token: VerifiedToken; end: (reason: CloseReason) => void }>();

  return {
    add(token, close) {
      const key = Symbol('stream');
      let timer: NodeJS.Timeout | undefined;
      const forget = () => {
        clearTimeout(timer);
        open.delete(key);
      };
      const end = (reason: CloseReason) => {
        if (!open.has(key)) return;
        forget();
        close(reason);
      };
      const expiresAtMs = (token.exp + opts.clockToleranceSeconds) * 1000;
      const arm = () => {
        const left = expiresAtMs - now();
        if (left <= 0) return end('token_expired');
        timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
        timer.unref();
      };
      open.set(key, { token, end });
      arm();
      return forget;
    },
    sweep() {
      for (const { token, end } of [...open.values()]) if (opts.isRevoked(token)) end('revoked');
    },
    size: () => open.size,
  };
}
