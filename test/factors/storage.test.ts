// The factor tables' rules without HTTP: WebAuthn challenges are single use, bound to what they
// were issued for, expire, and are capped; a TOTP time step is accepted once; recovery codes once.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/db.js';
import { createFactorRepository, hashRecoveryCode } from '../../src/storage/factors.js';
import { migrate } from '../../src/storage/migrate.js';
import { createUserRepository } from '../../src/storage/users.js';

function fresh() {
  const db = openDatabase(':memory:');
  migrate(db);
  const user = createUserRepository(db).create('ann', 'hash', false);
  return { factors: createFactorRepository(db), userId: user.id };
}

describe('factor storage', () => {
  it('takes a challenge once, only for its scope, and not after it expired', () => {
    const { factors } = fresh();
    expect(factors.putChallenge('c1', 'interaction:a', 100, 0)).toBe(true);
    expect(factors.takeChallenge('c1', 'interaction:b', 10)).toBe(false);
    expect(factors.takeChallenge('c1', 'interaction:a', 10)).toBe(true);
    expect(factors.takeChallenge('c1', 'interaction:a', 10)).toBe(false);
    expect(factors.putChallenge('c2', 's', 100, 0)).toBe(true);
    expect(factors.takeChallenge('c2', 's', 100)).toBe(false);
  });

  it('stores no more than the cap of live challenges, and room comes back as they expire', () => {
    const { factors } = fresh();
    expect(factors.putChallenge('a', 's', 50, 0, 2)).toBe(true);
    expect(factors.putChallenge('b', 's', 100, 0, 2)).toBe(true);
    expect(factors.putChallenge('c', 's', 100, 0, 2)).toBe(false);
    expect(factors.takeChallenge('c', 's', 1)).toBe(false);
    expect(factors.putChallenge('d', 's', 200, 60, 2)).toBe(true);
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
});
