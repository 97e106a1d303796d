// Accounts as oidc-provider sees them, and password login.
import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from '../lib/passwords.js';
import type { User, UserRepository } from '../storage/users.js';

/** Whether a user's upstream identity provider still vouches for them (./upstream.ts). */
export type UpstreamStanding = (userId: string) => Promise<boolean>;

export function findAccountFor(users: UserRepository, standing?: UpstreamStanding) {
  return async (ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> => {
    const user = await users.findById(sub);
    // A disabled user has no account: sessions lapse into a login prompt and refresh fails.
    if (!user || user.disabled) return undefined;
    // An agent's refresh is where a user who lost their standing upstream must stop getting
    // tokens: the provider answers invalid_grant for an account that is not found. (Not at
    // /authorize: oidc-provider fails on a session whose account is gone; a lost standing ends
    // the user's sessions instead, see ./upstream.ts.)
    const grantType = (ctx?.oidc?.params as { grant_type?: unknown } | undefined)?.grant_type;
    if (standing && ctx?.oidc?.route === 'token' && grantType === 'refresh_token' && !(await standing(user.id))) {
      return undefined;
    }
    return { accountId: user.id, claims: async () => ({ sub: user.id }) };
  };
}

/**
 * One answer for "no such user", "disabled" and "wrong password", and the same argon2 cost for
 * each (a dummy hash is verified when the user does not exist). Rehashes on parameter change.
 */
export async function authenticate(
  users: UserRepository,
  username: string,
  password: string,
): Promise<User | undefined> {
  const user = username.length <= 64 ? await users.findByUsername(username) : undefined;
  const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), password);
  if (!user || !ok || user.disabled) return undefined;
  if (needsRehash(user.passwordHash)) await users.setPasswordHash(user.id, await hashPassword(password));
  return user;
}
