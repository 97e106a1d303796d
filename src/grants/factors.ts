// A user's sign-in factors and the accounts admins create: enrolling and removing TOTP, recovery
// codes, passkeys, an admin's reset of every factor, a new user. Each change is audited with who
// made it. Taking a factor away (the user removing a lost passkey, an admin's reset after a stolen
// phone) also ends every browser session of the user, so whoever signed in with it is signed out
// too; a password change already does (./users.ts). The page that made the change starts itself a
// new session.
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Stores } from '../storage/index.js';
import { type User, UserExistsError } from '../storage/users.js';
import { type Actor, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

export interface NewPasskey {
  id: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  name: string;
}

const ended = (sessions: { provider: number; pages: number }) => ({
  sessions_ended: sessions.provider + sessions.pages,
});

export function factorOperations(stores: Stores, audit: Audit) {
  const { sql, users, factors, revocations } = stores;
  const log = auditFor(audit, stores.grantRecords);

  return {
    /** Creates a user with an already hashed password. */
    async createUser(actor: Actor, username: string, passwordHash: string, isAdmin: boolean): Promise<User> {
      let user: User;
      try {
        user = await users.create(username, passwordHash, isAdmin);
      } catch (err) {
        if (err instanceof UserExistsError) throw new LifecycleError('exists', `user ${username} already exists`);
        throw err;
      }
      await log.event(actor, 'user.created', { userId: user.id, details: { admin: isAdmin } });
      return user;
    },
    /** Starts a TOTP enrolment (replacing one not yet confirmed); refused while one is active. */
    async startTotp(_actor: Actor, user: User, secret: string): Promise<void> {
      if ((await factors.totp(user.id))?.confirmed)
        throw new LifecycleError('exists', 'a TOTP authenticator is already set up');
      await factors.startTotp(user.id, secret, epochSeconds());
    },
    /**
     * Confirms the pending enrolment with the time step of its first code and stores the hashes of
     * fresh recovery codes, in one transaction; false when nothing was pending.
     */
    async confirmTotp(actor: Actor, user: User, step: number, recoveryHashes: readonly string[]): Promise<boolean> {
      const now = epochSeconds();
      const done = await sql.transaction(async () => {
        if (!(await factors.confirmTotp(user.id, step, now))) return false;
        await factors.replaceRecoveryCodes(user.id, recoveryHashes, now);
        return true;
      });
      if (done) await log.event(actor, 'user.totp_enabled', { userId: user.id });
      return done;
    },
    /** Replaces the recovery codes (the old ones stop working); refused without TOTP. */
    async replaceRecoveryCodes(actor: Actor, user: User, hashes: readonly string[]): Promise<void> {
      if (!(await factors.totp(user.id))?.confirmed)
        throw new LifecycleError('missing', 'set up a TOTP authenticator first');
      await factors.replaceRecoveryCodes(user.id, hashes, epochSeconds());
      await log.event(actor, 'user.recovery_codes_replaced', { userId: user.id });
    },
    /** Removes TOTP and its recovery codes; false when there was none. */
    async removeTotp(actor: Actor, user: User): Promise<boolean> {
      const removed = await sql.transaction(async () => {
        const had = await factors.removeTotp(user.id);
        await factors.removeRecoveryCodes(user.id);
        return had && (await revocations.endSessions(user.id));
      });
      if (removed) await log.event(actor, 'user.totp_removed', { userId: user.id, details: ended(removed) });
      return removed !== false;
    },
    async addPasskey(actor: Actor, user: User, passkey: NewPasskey): Promise<void> {
      if (await factors.passkey(passkey.id)) throw new LifecycleError('exists', 'this passkey is already registered');
      await factors.addPasskey({ ...passkey, userId: user.id, createdAt: epochSeconds() });
      await log.event(actor, 'user.passkey_added', { userId: user.id, details: { passkey: passkey.name } });
    },
    /** Removes one of the user's passkeys; false when the user has no passkey with that id. */
    async removePasskey(actor: Actor, user: User, id: string): Promise<boolean> {
      const removed = await sql.transaction(
        async () => (await factors.removePasskey(user.id, id)) && (await revocations.endSessions(user.id)),
      );
      if (removed) await log.event(actor, 'user.passkey_removed', { userId: user.id, details: ended(removed) });
      return removed !== false;
    },
    /** An admin's reset: every factor goes and every session of the user ends. */
    async resetFactors(actor: Actor, user: User): Promise<{ totp: boolean; passkeys: number }> {
      const done = await sql.transaction(async () => {
        const totp = await factors.removeTotp(user.id);
        await factors.removeRecoveryCodes(user.id);
        const passkeys = await factors.removePasskeys(user.id);
        const sessions = await revocations.endSessions(user.id);
        return { totp, passkeys, sessions: sessions.provider + sessions.pages };
      });
      await log.event(actor, 'user.factors_reset', {
        userId: user.id,
        details: { totp: done.totp, passkeys: done.passkeys, sessions_ended: done.sessions },
      });
      return { totp: done.totp, passkeys: done.passkeys };
    },
  };
}
