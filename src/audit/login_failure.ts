// What a failed login records. The page gives one answer for every cause (so nobody can probe
// which usernames exist); the audit trail keeps the cause for the operator.
import type { UserRepository } from '../storage/users.js';
import type { AuditDetails } from './index.js';

export type LoginFailureReason = 'unknown_user' | 'wrong_password' | 'disabled';

// Unknown usernames are often a password typed into the wrong field. Passwords have at least 8
// characters, so keeping 4 is enough to recognise a spray at "admin" or "root" and never a password.
const KEPT_CHARS = 4;

export function truncatedUsername(attempted: string): string {
  const chars = Array.from(attempted);
  return chars.length > KEPT_CHARS ? `${chars.slice(0, KEPT_CHARS).join('')}…` : attempted;
}

/**
 * Why authenticate() refused: the user does not exist, is disabled (whatever the password), or
 * the password was wrong. Called only after a refusal, so it adds no timing difference to the page.
 */
export async function loginFailure(
  users: UserRepository,
  username: string,
): Promise<{ userId: string | null; details: AuditDetails & { reason: LoginFailureReason } }> {
  const user = username.length <= 64 ? await users.findByUsername(username) : undefined;
  if (!user) return { userId: null, details: { reason: 'unknown_user', username: truncatedUsername(username) } };
  return { userId: user.id, details: { reason: user.disabled ? 'disabled' : 'wrong_password' } };
}
