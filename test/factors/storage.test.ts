// The factor tables' rules without HTTP: an answered WebAuthn challenge is recorded once; a TOTP
// time step is accepted once; recovery codes once.
import { afterEach, describe, expect, it } from 'vitest';
import { createFactorRepository, hashRecoveryCode } from '../../src/storage/factors.js';
import { createUserRepository } from '../../src/storage/users.js';
import { challengeExpiry, newChallenge } from '../../src/web/factors.js';
import { type TestStorage, tempTestStorage } from '../support/storage.js';

const opened: TestStorage[] = [];
afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close();
});

async function fresh() {
  const storage = await tempTestStorage();
  opened.push(storage);
  const user = await createUserRepository(storage.sql).create('ann', 'hash', false);
  return { factors: createFactorRepository(storage.sql), userId: user.id };
}

describe('factor storage', () => {
  it('records an answered challenge once, and forgets it after it expired', async () => {
    const { factors } = await fresh();
    expect(await factors.useChallenge('c1', 100, 0)).toBe(true);
    expect(await factors.useChallenge('c1', 100, 10)).toBe(false);
    // Purged once expired (by then no answer to it verifies anyway).
    expect(await factors.useChallenge('c1', 200, 100)).toBe(true);
    expect((await factors.challengeKey()).length).toBeGreaterThan(30);
    expect(await factors.challengeKey()).toEqual(await factors.challengeKey());
  });

  it('moves the TOTP step only forward and uses a recovery code once', async () => {
    const { factors, userId } = await fresh();
    await factors.startTotp(userId, 'JBSWY3DPEHPK3PXP', 0);
    expect(await factors.confirmTotp(userId, 10, 0)).toBe(true);
    expect(await factors.confirmTotp(userId, 11, 0)).toBe(false);
    expect(await factors.useTotpStep(userId, 10)).toBe(false);
    expect(await factors.useTotpStep(userId, 11)).toBe(true);
    expect(await factors.useTotpStep(userId, 11)).toBe(false);
    await factors.replaceRecoveryCodes(userId, [hashRecoveryCode('abcd-efgh-jkmn-pqrs')], 0);
    expect(await factors.useRecoveryCode(userId, 'ABCD EFGH JKMN PQRS', 0)).toBe(true);
    expect(await factors.useRecoveryCode(userId, 'abcd-efgh-jkmn-pqrs', 0)).toBe(false);
    expect(await factors.recoveryCodesLeft(userId)).toBe(0);
  });

  it('accepts a challenge only for what it was issued for, untouched and before it expires', async () => {
    const { factors } = await fresh();
    const now = Math.floor(Date.now() / 1000);
    const challenge = Buffer.from(await newChallenge(factors, 'interaction:one')).toString('base64url');
    expect(await challengeExpiry(factors, challenge, 'interaction:one', now)).toBeGreaterThan(now);
    expect(await challengeExpiry(factors, challenge, 'interaction:two', now)).toBeUndefined();
    expect(await challengeExpiry(factors, challenge, 'interaction:one', now + 3600)).toBeUndefined();
    const raw = Buffer.from(challenge, 'base64url');
    raw.writeUInt32BE(now + 86_400, 16);
    expect(await challengeExpiry(factors, raw.toString('base64url'), 'interaction:one', now)).toBeUndefined();
    expect(await challengeExpiry(factors, 'short', 'interaction:one', now)).toBeUndefined();
    const other = (await fresh()).factors;
    expect(await challengeExpiry(other, challenge, 'interaction:one', now)).toBeUndefined();
  });
});
