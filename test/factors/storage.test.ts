// The factor tables' rules without HTTP: an answered WebAuthn challenge is recorded once; a TOTP
// time step is accepted once; recovery codes once.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/db.js';
import { createFactorRepository, hashRecoveryCode } from '../../src/storage/factors.js';
import { migrate } from '../../src/storage/migrate.js';
import { createUserRepository } from '../../src/storage/users.js';
import { challengeExpiry, newChallenge } from '../../src/web/factors.js';

function fresh() {
  const db = openDatabase(':memory:');
  migrate(db);
  const user = createUserRepository(db).create('ann', 'hash', false);
  return { factors: createFactorRepository(db), userId: user.id };
}

describe('factor storage', () => {
  it('records an answered challenge once, and forgets it after it expired', () => {
    const { factors } = fresh();
    expect(factors.useChallenge('c1', 100, 0)).toBe(true);
    expect(factors.useChallenge('c1', 100, 10)).toBe(false);
    // Purged once expired (by then no answer to it verifies anyway).
    expect(factors.useChallenge('c1', 200, 100)).toBe(true);
    expect(factors.challengeKey().length).toBeGreaterThan(30);
    expect(factors.challengeKey()).toBe(factors.challengeKey());
  });

  it('moves the TOTP step only forward and uses a recovery code once', () => {
    const { factors, userId } = fresh();
    factors.startTotp(userId, 'JBSWY3DPEHPK3PXP', 0);
    expect(factors.confirmTotp(userId, 10, 0)).toBe(true);
    expect(factors.confirmTotp(userId, 11, 0)).toBe(false);
    expect(factors.useTotpStep(userId, 10)).toBe(false);
    expect(factors.useTotpStep(userId, 11)).toBe(true);
    expect(factors.useTotpStep(userId, 11)).toBe(false);
    factors.replaceRecoveryCodes(userId, [hashRecoveryCode('abcd-efgh-jkmn-pqrs')], 0);
    expect(factors.useRecoveryCode(userId, 'ABCD EFGH JKMN PQRS', 0)).toBe(true);
    expect(factors.useRecoveryCode(userId, 'abcd-efgh-jkmn-pqrs', 0)).toBe(false);
    expect(factors.recoveryCodesLeft(userId)).toBe(0);
  });

  it('accepts a challenge only for what it was issued for, untouched and before it expires', () => {
    const { factors } = fresh();
    const now = Math.floor(Date.now() / 1000);
    const challenge = Buffer.from(newChallenge(factors, 'interaction:one')).toString('base64url');
    expect(challengeExpiry(factors, challenge, 'interaction:one', now)).toBeGreaterThan(now);
    expect(challengeExpiry(factors, challenge, 'interaction:two', now)).toBeUndefined();
    expect(challengeExpiry(factors, challenge, 'interaction:one', now + 3600)).toBeUndefined();
    const raw = Buffer.from(challenge, 'base64url');
    raw.writeUInt32BE(now + 86_400, 16);
    expect(challengeExpiry(factors, raw.toString('base64url'), 'interaction:one', now)).toBeUndefined();
    expect(challengeExpiry(factors, 'short', 'interaction:one', now)).toBeUndefined();
    const other = fresh().factors;
    expect(challengeExpiry(other, challenge, 'interaction:one', now)).toBeUndefined();
  });
});
