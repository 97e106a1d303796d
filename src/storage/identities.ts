// Users' accounts at an organisation's identity provider, linked by the provider's issuer and
// subject (migrations/0040_user_identities.sql). The upstream refresh token is kept so the server can
// ask the provider again whether the user is still in good standing (src/provider/upstream.ts).
import { epochSeconds } from '../lib/duration.js';
import type { Sql } from './engine.js';

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

const BY_KEY = 'SELECT * FROM user_identities WHERE issuer = ? AND subject = ?';
const BY_USER = 'SELECT * FROM user_identities WHERE user_id = ? ORDER BY created_at, issuer';
const ALL = 'SELECT user_id, provider FROM user_identities ORDER BY created_at';
const INSERT = `INSERT INTO user_identities (issuer, subject, provider, user_id, email, refresh_token, checked_at, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
// A provider that does not rotate refresh tokens answers without one: keep the one we have.
const TOUCH = `UPDATE user_identities SET email = ?, refresh_token = COALESCE(?, refresh_token), checked_at = ?
  WHERE issuer = ? AND subject = ?`;
const FORGET_EXPIRED = 'DELETE FROM id_jag_assertions WHERE expires_at < ?';
const REMEMBER =
  'INSERT INTO id_jag_assertions (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT (issuer, jti) DO NOTHING';

export function createIdentityRepository(sql: Sql) {
  const find = async (issuer: string, subject: string): Promise<Identity | undefined> => {
    const row = await sql.get<IdentityRow>(BY_KEY, [issuer, subject]);
    return row && toIdentity(row);
  };
  return {
    /** True the first time an assertion (issuer, jti) is presented before it expires; false on replay. */
    async firstUseOfAssertion(issuer: string, jti: string, expiresAt: number, now = epochSeconds()): Promise<boolean> {
      return sql.transaction(async () => {
        await sql.run(FORGET_EXPIRED, [now]);
        return (await sql.run(REMEMBER, [issuer, jti, expiresAt])).changes === 1;
      });
    },
    find,
    async forUser(userId: string): Promise<Identity[]> {
      return (await sql.all<IdentityRow>(BY_USER, [userId])).map(toIdentity);
    },
    /** The providers each user is linked to, for the admin's user list. */
    async providersByUser(): Promise<Map<string, string[]>> {
      const map = new Map<string, string[]>();
      for (const row of await sql.all<{ user_id: string; provider: string }>(ALL)) {
        map.set(row.user_id, [...(map.get(row.user_id) ?? []), row.provider]);
      }
      return map;
    },
    async link(identity: Omit<Identity, 'checkedAt' | 'createdAt'>, now = epochSeconds()): Promise<Identity> {
      await sql.run(INSERT, [
        identity.issuer,
        identity.subject,
        identity.provider,
        identity.userId,
        identity.email,
        identity.refreshToken,
        now,
        now,
      ]);
      return (await find(identity.issuer, identity.subject)) as Identity;
    },
    /** The user's standing was confirmed upstream now. */
    async confirmed(
      issuer: string,
      subject: string,
      fresh: { email: string | null; refreshToken: string | null },
      now = epochSeconds(),
    ): Promise<void> {
      await sql.run(TOUCH, [fresh.email, fresh.refreshToken, now, issuer, subject]);
    },
  };
}
