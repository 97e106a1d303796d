// Sign-in factors beside the password: a TOTP secret, one-time recovery codes (hashed), passkeys
// (WebAuthn credentials) and the single-use WebAuthn challenges. migrations/0050_sign_in_factors.sql.
import { createHash } from 'node:crypto';
import type { Db } from './db.js';
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

export function createFactorRepository(db: Db) {
  const totpOf = db.prepare('SELECT * FROM user_totp WHERE user_id = ?');
  const totpPut = db.prepare(
    'INSERT OR REPLACE INTO user_totp (user_id, secret, created_at, confirmed_at, last_step) VALUES (?, ?, ?, NULL, 0)',
  );
  const totpConfirm = db.prepare(
    'UPDATE user_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL',
  );
  // Compare-and-set: of two requests with the same code, only one moves the step forward.
  const totpStep = db.prepare('UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ?');
  const totpDelete = db.prepare('DELETE FROM user_totp WHERE user_id = ?');
  const codesDelete = db.prepare('DELETE FROM recovery_codes WHERE user_id = ?');
  const codeInsert = db.prepare('INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)');
  const codeUse = db.prepare(
    'UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL',
  );
  const codesLeft = db.prepare('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL').pluck();
  const passkeysOf = db.prepare('SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at');
  const passkeyById = db.prepare('SELECT * FROM passkeys WHERE id = ?');
  const passkeyInsert = db.prepare(
    'INSERT INTO passkeys (id, user_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const passkeyUsed = db.prepare('UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?');
  const passkeyDelete = db.prepare('DELETE FROM passkeys WHERE id = ? AND user_id = ?');
  const passkeysDelete = db.prepare('DELETE FROM passkeys WHERE user_id = ?');
  const challengePurge = db.prepare('DELETE FROM webauthn_challenges WHERE expires_at <= ?');
  const challengeUse = db.prepare(
    'INSERT INTO webauthn_challenges (challenge, expires_at) VALUES (?, ?) ON CONFLICT (challenge) DO NOTHING',
  );
  let challengeKey: Buffer | undefined;

  return {
    totp(userId: string): TotpRecord | undefined {
      const r = totpOf.get(userId) as
        | { user_id: string; secret: string; confirmed_at: number | null; last_step: number }
        | undefined;
      return r && { userId: r.user_id, secret: r.secret, confirmed: r.confirmed_at !== null, lastStep: r.last_step };
    },
    /** Starts (or restarts) an enrolment; the secret counts only once confirmed. */
    startTotp(userId: string, secret: string, now: number): void {
      totpPut.run(userId, secret, now);
    },
    /** Confirms a pending enrolment with the step of its first code; false when none was pending. */
    confirmTotp(userId: string, step: number, now: number): boolean {
      return totpConfirm.run(now, step, userId).changes === 1;
    },
    /** Records a used time step; false when it (or a later one) was already used. */
    useTotpStep(userId: string, step: number): boolean {
      return totpStep.run(step, userId, step).changes === 1;
    },
    removeTotp(userId: string): boolean {
      return totpDelete.run(userId).changes > 0;
    },
    /** Replaces every recovery code of the user with these (already hashed). */
    replaceRecoveryCodes(userId: string, hashes: readonly string[], now: number): void {
      codesDelete.run(userId);
      for (const h of hashes) codeInsert.run(userId, h, now);
    },
    /** Marks a code used; false when it is unknown or already used. */
    useRecoveryCode(userId: string, code: string, now: number): boolean {
      return codeUse.run(now, userId, hashRecoveryCode(code)).changes === 1;
    },
    recoveryCodesLeft(userId: string): number {
      return codesLeft.get(userId) as number;
    },
    removeRecoveryCodes(userId: string): number {
      return codesDelete.run(userId).changes;
    },
    passkeys(userId: string): Passkey[] {
      return (passkeysOf.all(userId) as PasskeyRow[]).map(toPasskey);
    },
    passkey(id: string): Passkey | undefined {
      const r = passkeyById.get(id) as PasskeyRow | undefined;
      return r && toPasskey(r);
    },
    addPasskey(p: Omit<Passkey, 'lastUsedAt'>): void {
      passkeyInsert.run(
        p.id,
        p.userId,
        Buffer.from(p.publicKey),
        p.counter,
        p.transports.join(' '),
        p.name,
        p.createdAt,
      );
    },
    passkeyUsed(id: string, counter: number, now: number): void {
      passkeyUsed.run(counter, now, id);
    },
    removePasskey(userId: string, id: string): boolean {
      return passkeyDelete.run(id, userId).changes > 0;
    },
    removePasskeys(userId: string): number {
      return passkeysDelete.run(userId).changes;
    },
    /** The key WebAuthn challenges are signed with (made once, shared by every process on the file). */
    challengeKey(): Buffer {
      challengeKey ??= Buffer.from(getOrCreateSecret(db, 'webauthn_challenge_key'), 'utf8');
      return challengeKey;
    },
    /** Records an answered challenge until it expires; false when it was answered before. */
    useChallenge(challenge: string, expiresAt: number, now: number): boolean {
      challengePurge.run(now);
      return challengeUse.run(challenge, expiresAt).changes === 1;
    },
  };
}
