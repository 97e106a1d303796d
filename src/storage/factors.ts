// Sign-in factors beside the password: a TOTP secret, one-time recovery codes (hashed), passkeys
// (WebAuthn credentials) and the single-use WebAuthn challenges. migrations/0050_sign_in_factors.sql.
import { createHash } from 'node:crypto';
import type { Sql } from './engine.js';
import { getOrCreateSecret } from './settings.js';

export interface TotpRecord {
  userId: string;
  secret: string;
  confirmed: boolean;
  lastStep: number;
}

export interface Passkey {
  id: string;
  userId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

interface PasskeyRow {
  id: string;
  user_id: string;
  public_key: Buffer;
  counter: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

const toPasskey = (r: PasskeyRow): Passkey => ({
  id: r.id,
  userId: r.user_id,
  publicKey: new Uint8Array(r.public_key),
  counter: r.counter,
  transports: r.transports ? r.transports.split(' ') : [],
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

/** Recovery codes are 80 random bits: a plain SHA-256 is enough to make a leaked table useless. */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.replace(/[\s-]/g, '').toLowerCase()).digest('hex');
}

export type FactorRepository = ReturnType<typeof createFactorRepository>;

const TOTP_OF = 'SELECT * FROM user_totp WHERE user_id = ?';
const TOTP_PUT = `INSERT INTO user_totp (user_id, secret, created_at, confirmed_at, last_step) VALUES (?, ?, ?, NULL, 0)
  ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at,
    confirmed_at = excluded.confirmed_at, last_step = excluded.last_step`;
const TOTP_CONFIRM = 'UPDATE user_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL';
// Compare-and-set: of two requests with the same code, only one moves the step forward.
const TOTP_STEP = 'UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ?';
const TOTP_DELETE = 'DELETE FROM user_totp WHERE user_id = ?';
const CODES_DELETE = 'DELETE FROM recovery_codes WHERE user_id = ?';
const CODE_INSERT = 'INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)';
const CODE_USE = 'UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL';
const CODES_LEFT = 'SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL';
const PASSKEYS_OF = 'SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at';
const PASSKEY_BY_ID = 'SELECT * FROM passkeys WHERE id = ?';
const PASSKEY_INSERT =
  'INSERT INTO passkeys (id, user_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)';
const PASSKEY_USED = 'UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?';
const PASSKEY_DELETE = 'DELETE FROM passkeys WHERE id = ? AND user_id = ?';
const PASSKEYS_DELETE = 'DELETE FROM passkeys WHERE user_id = ?';
const CHALLENGE_PURGE = 'DELETE FROM webauthn_challenges WHERE expires_at <= ?';
const CHALLENGE_USE =
  'INSERT INTO webauthn_challenges (challenge, expires_at) VALUES (?, ?) ON CONFLICT (challenge) DO NOTHING';

export function createFactorRepository(sql: Sql) {
  let challengeKey: Buffer | undefined;

  return {
    async totp(userId: string): Promise<TotpRecord | undefined> {
      const r = await sql.get<{ user_id: string; secret: string; confirmed_at: number | null; last_step: number }>(
        TOTP_OF,
        [userId],
      );
      return r && { userId: r.user_id, secret: r.secret, confirmed: r.confirmed_at !== null, lastStep: r.last_step };
    },
    /** Starts (or restarts) an enrolment; the secret counts only once confirmed. */
    async startTotp(userId: string, secret: string, now: number): Promise<void> {
      await sql.run(TOTP_PUT, [userId, secret, now]);
    },
    /** Confirms a pending enrolment with the step of its first code; false when none was pending. */
    async confirmTotp(userId: string, step: number, now: number): Promise<boolean> {
      return (await sql.run(TOTP_CONFIRM, [now, step, userId])).changes === 1;
    },
    /** Records a used time step; false when it (or a later one) was already used. */
    async useTotpStep(userId: string, step: number): Promise<boolean> {
      return (await sql.run(TOTP_STEP, [step, userId, step])).changes === 1;
    },
    async removeTotp(userId: string): Promise<boolean> {
      return (await sql.run(TOTP_DELETE, [userId])).changes > 0;
    },
    /** Replaces every recovery code of the user with these (already hashed). */
    async replaceRecoveryCodes(userId: string, hashes: readonly string[], now: number): Promise<void> {
      await sql.transaction(async () => {
        await sql.run(CODES_DELETE, [userId]);
        for (const h of hashes) await sql.run(CODE_INSERT, [userId, h, now]);
      });
    },
    /** Marks a code used; false when it is unknown or already used. */
    async useRecoveryCode(userId: string, code: string, now: number): Promise<boolean> {
      return (await sql.run(CODE_USE, [now, userId, hashRecoveryCode(code)])).changes === 1;
    },
    async recoveryCodesLeft(userId: string): Promise<number> {
      return (await sql.get<{ n: number }>(CODES_LEFT, [userId]))?.n ?? 0;
    },
    async removeRecoveryCodes(userId: string): Promise<number> {
      return (await sql.run(CODES_DELETE, [userId])).changes;
    },
    async passkeys(userId: string): Promise<Passkey[]> {
      return (await sql.all<PasskeyRow>(PASSKEYS_OF, [userId])).map(toPasskey);
    },
    async passkey(id: string): Promise<Passkey | undefined> {
      const r = await sql.get<PasskeyRow>(PASSKEY_BY_ID, [id]);
      return r && toPasskey(r);
    },
    async addPasskey(p: Omit<Passkey, 'lastUsedAt'>): Promise<void> {
      await sql.run(PASSKEY_INSERT, [
        p.id,
        p.userId,
        Buffer.from(p.publicKey),
        p.counter,
        p.transports.join(' '),
        p.name,
        p.createdAt,
      ]);
    },
    async passkeyUsed(id: string, counter: number, now: number): Promise<void> {
      await sql.run(PASSKEY_USED, [counter, now, id]);
    },
    async removePasskey(userId: string, id: string): Promise<boolean> {
      return (await sql.run(PASSKEY_DELETE, [id, userId])).changes > 0;
    },
    async removePasskeys(userId: string): Promise<number> {
      return (await sql.run(PASSKEYS_DELETE, [userId])).changes;
    },
    /** The key WebAuthn challenges are signed with (made once, shared by every process on the file). */
    async challengeKey(): Promise<Buffer> {
      challengeKey ??= Buffer.from(await getOrCreateSecret(sql, 'webauthn_challenge_key'), 'utf8');
      return challengeKey;
    },
    /** Records an answered challenge until it expires; false when it was answered before. */
    async useChallenge(challenge: string, expiresAt: number, now: number): Promise<boolean> {
      await sql.run(CHALLENGE_PURGE, [now]);
      return (await sql.run(CHALLENGE_USE, [challenge, expiresAt])).changes === 1;
    },
  };
}
