// The state between the password and the second step of a sign-in: a short-lived token signed
// with a key kept in the database (every process on the file agrees on it), carried in a hidden
// form field. It names the user and what it was issued for (one interaction, or the account
// sign-in), so it is useless anywhere else and worthless after five minutes. It proves only the
// password: the second step still has to be passed, under the same back-off as the password.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Db } from '../storage/db.js';
import { getOrCreateSecret } from '../storage/settings.js';

const TTL_SECONDS = 300;
const TYP = 'mcp-oauth-pending-sign-in+jwt';

export type PendingSignIns = ReturnType<typeof createPendingSignIns>;

export function createPendingSignIns(db: Db) {
  let key: KeyObject | undefined;
  const keyOf = () => {
    key ??= createSecretKey(Buffer.from(getOrCreateSecret(db, 'pending_sign_in_key'), 'utf8'));
    return key;
  };
  return {
    issue(userId: string, scope: string): Promise<string> {
      return new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: TYP })
        .setSubject(userId)
        .setAudience(scope)
        .setIssuedAt()
        .setExpirationTime(`${TTL_SECONDS}s`)
        .sign(keyOf());
    },
    /** The user id the token names, when it is ours, live and issued for `scope`. */
    async verify(token: unknown, scope: string): Promise<string | undefined> {
      if (typeof token !== 'string' || token.length > 2048) return undefined;
      try {
        const { payload } = await jwtVerify(token, keyOf(), {
          algorithms: ['HS256'],
          audience: scope,
          typ: TYP,
          requiredClaims: ['sub', 'exp'],
        });
        return payload.sub;
      } catch {
        return undefined;
      }
    },
  };
}
