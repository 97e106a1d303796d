// The one comparison of secrets (tokens, CSRF values, stored secret hashes) with a value a client
// presented. timingSafeEqual alone throws on different lengths, and checking the lengths first
// tells an attacker the secret's length; hashing both sides first gives two 32-byte digests, so the
// comparison always runs, takes the same time whatever the inputs, and never throws.
import { createHash, timingSafeEqual } from 'node:crypto';

type Secret = string | Uint8Array;

const digest = (value: Secret) => createHash('sha256').update(value).digest();

const isSecret = (value: unknown): value is Secret => typeof value === 'string' || value instanceof Uint8Array;

/**
 * True when `presented` equals `expected`, compared in constant time. Anything that is not a string
 * or bytes (a form field that arrived as an array, an absent header) is simply not equal.
 */
export function constantTimeEqual(presented: unknown, expected: Secret): boolean {
  if (!isSecret(presented) || !isSecret(expected)) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}
