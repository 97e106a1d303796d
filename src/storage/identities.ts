// Users' accounts at an organisation's identity provider, linked by the provider's issuer and
// subject (migrations/0040_user_identities.sql). The upstream refresh token is kept so the server can
// ask the provider again whether the user is still in good standing (src/provider/upstream.ts).
import { epochSeconds } from '../lib/duration.js';
import type { Db } from './db.js';

/**
 * The password hash of users who sign in only through an identity provider: no password verifies
 * against it (argon2 refuses to parse it).
 */
export const NO_PASSWORD = '!sso';

export interface Identity {
  issuer: string;
  subject: string;
  /** The operator's name of the provider (its entry in MCP_OAUTH_IDPS_FILE). */
  provider: string;
  userId: string;
  email: string | null;
  refreshToken: string | null;
  checkedAt: number;
  createdAt: number;
}

interface IdentityRow {
  issuer: string;
  subject: string;
  provider: string;
  user_id: string;
  email: string | null;
  refresh_token: string | null;
  checked_at: number;
  created_at: number;
}

const toIdentity = (row: IdentityRow): Identity => ({
  issuer: row.issuer,
  subject: row.subject,
  provider: row.provider,
  userId: row.user_id,
  email: row.email,
  refreshToken: row.refresh_token,
  checkedAt: row.checked_at,
  createdAt: row.created_at,
});

export type IdentityRepository = ReturnType<typeof createIdentityRepository>;

export function createIdentityRepository(db: Db) {
  const byKey = db.prepare('SELECT * FROM user_identities WHERE issuer = ? AND subject = ?');
  const byUser = db.prepare('SELECT * FROM user_identities WHERE user_id = ? ORDER BY created_at, issuer');
  const all = db.prepare('SELECT user_id, provider FROM user_identities ORDER BY created_at');
  const insert = db.prepare(
    `INSERT INTO user_identities (issuer, subject, provider, user_id, email, refresh_token, checked_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const touch = db.prepare(
    // A provider that does not rotate refresh tokens answers without one: keep the one we have.
    `UPDATE user_identities SET email = ?, refresh_token = COALESCE(?, refresh_token), checked_at = ?
     WHERE issuer = ? AND subject = ?`,
  );

  const forgetExpired = db.prepare('DELETE FROM id_jag_assertions WHERE expires_at < ?');
  const remember = db.prepare('INSERT OR IGNORE INTO id_jag_assertions (issuer, jti, expires_at) VALUES (?, ?, ?)');

  return {
    /** True the first time an assertion (issuer, jti) is presented before it expires; false on replay. */
    firstUseOfAssertion(issuer: string, jti: string, expiresAt: number, now = epochSeconds()): boolean {
      return db.transaction(() => {
        forgetExpired.run(now);
        return remember.run(issuer, jti, expiresAt).changes === 1;
      })();
    },
    find(issuer: string, subject: string): Identity | undefined {
      const row = byKey.get(issuer, subject) as IdentityRow | undefined;
      return row && toIdentity(row);
    },
    forUser(userId: string): Identity[] {
      return (byUser.all(userId) as IdentityRow[]).map(toIdentity);
    },
    /** The providers each user is linked to, for the admin's user list. */
    providersByUser(): Map<string, string[]> {
      const map = new Map<string, string[]>();
      for (const row of all.all() as { user_id: string; provider: string }[]) {
        map.set(row.user_id, [...(map.get(row.user_id) ?? []), row.provider]);
      }
      return map;
    },
    link(identity: Omit<Identity, 'checkedAt' | 'createdAt'>, now = epochSeconds()): Identity {
      insert.run(
        identity.issuer,
        identity.subject,
        identity.provider,
        identity.userId,
        identity.email,
        identity.refreshToken,
        now,
        now,
      );
      return this.find(identity.issuer, identity.subject) as Identity;
    },
    /** The user's standing was confirmed upstream now. */
    confirmed(
      issuer: string,
      subject: string,
      fresh: { email: string | null; refreshToken: string | null },
      now = epochSeconds(),
    ): void {
      touch.run(fresh.email, fresh.refreshToken, now, issuer, subject);
    },
  };
}
