// The state between the password and the second step of a sign-in: a short-lived token signed
// with a key kept in the database (every process on the file agrees on it), carried in a hidden
// form field. It names the user and what it was issued for (one interaction, or the account
// sign-in), so it is useless anywhere else and worthless after five minutes. It proves only the
// password: the second step still has to be passed, under the same back-off as the password.
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Sql } from '../storage/engine.js';
import { getOrCreateSecret } from '../storage/settings.js';
import type { User, UserRepository } from '../storage/users.js';

// Which password the first step checked: a new password since then voids the pending sign-in.
const passwordMark = (user: User) => createHash('sha256').update(user.passwordHash).digest('base64url').slice(0, 22);

const TTL_SECONDS = 300;
const TYP = 'mcp-oauth-pending-sign-in+jwt';

export type PendingSignIns = Awaited<ReturnType<typeof createPendingSignIns>>;

export async function createPendingSignIns(sql: Sql, users: UserRepository) {
  // Made when the app is built, not by a sign-in attempt (a refused one must write nothing).
  const key: KeyObject = createSecretKey(Buffer.from(await getOrCreateSecret(sql, 'pending_sign_in_key'), 'utf8'));
  const keyOf = () => key;
  return {
    issue(user: User, scope: string): Promise<string> {
      return new SignJWT({ pwd: passwordMark(user) })
        .setProtectedHeader({ alg: 'HS256', typ: TYP })
        .setSubject(user.id)
        .setAudience(scope)
        .setIssuedAt()
        .setExpirationTime(`${TTL_SECONDS}s`)
        .sign(keyOf());
    },
    /**
     * The user the token names, when it is ours, live, issued for `scope`, and the user is still
     * enabled with the same password.
     */
    async verify(token: unknown, scope: string): Promise<User | undefined> {
      if (typeof token !== 'string' || token.length > 2048) return undefined;
      try {
        const { payload } = await jwtVerify(token, keyOf(), {
          algorithms: ['HS256'],
          audience: scope,
          typ: TYP,
          requiredClaims: ['sub', 'exp'],
        });
        const user = typeof payload.sub === 'string' ? await users.findById(payload.sub) : undefined;
        if (!user || user.disabled || payload.pwd !== passwordMark(user)) return undefined;
        return user;
      } catch {
        return undefined;
      }
    },
  };
}
