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
  const { db, users, factors, revocations } = stores;
  const log = auditFor(audit, stores.grantRecords);

  return {
    /** Creates a user with an already hashed password. */
    createUser(actor: Actor, username: string, passwordHash: string, isAdmin: boolean): User {
      let user: User;
      try {
        user = users.create(username, passwordHash, isAdmin);
      } catch (err) {
        if (err instanceof UserExistsError) throw new LifecycleError('exists', `user ${username} already exists`);
        throw err;
      }
      log.event(actor, 'user.created', { userId: user.id, details: { admin: isAdmin } });
      return user;
    },
    /** Starts a TOTP enrolment (replacing one not yet confirmed); refused while one is active. */
    startTotp(_actor: Actor, user: User, secret: string): void {
      if (factors.totp(user.id)?.confirmed)
        throw new LifecycleError('exists', 'a TOTP authenticator is already set up');
      factors.startTotp(user.id, secret, epochSeconds());
    },
    /**
     * Confirms the pending enrolment with the time step of its first code and stores the hashes of
     * fresh recovery codes, in one transaction; false when nothing was pending.
     */
    confirmTotp(actor: Actor, user: User, step: number, recoveryHashes: readonly string[]): boolean {
      const now = epochSeconds();
      const done = db
        .transaction(() => {
          if (!factors.confirmTotp(user.id, step, now)) return false;
          factors.replaceRecoveryCodes(user.id, recoveryHashes, now);
          return true;
        })
        .immediate();
      if (done) log.event(actor, 'user.totp_enabled', { userId: user.id });
      return done;
    },
    /** Replaces the recovery codes (the old ones stop working); refused without TOTP. */
    replaceRecoveryCodes(actor: Actor, user: User, hashes: readonly string[]): void {
      if (!factors.totp(user.id)?.confirmed) throw new LifecycleError('missing', 'set up a TOTP authenticator first');
      factors.replaceRecoveryCodes(user.id, hashes, epochSeconds());
      log.event(actor, 'user.recovery_codes_replaced', { userId: user.id });
    },
    /** Removes TOTP and its recovery codes; false when there was none. */
    removeTotp(actor: Actor, user: User): boolean {
      const removed = db
        .transaction(() => {
          const had = factors.removeTotp(user.id);
          factors.removeRecoveryCodes(user.id);
          return had && revocations.endSessions(user.id);
        })
        .immediate();
      if (removed) log.event(actor, 'user.totp_removed', { userId: user.id, details: ended(removed) });
      return removed !== false;
    },
    addPasskey(actor: Actor, user: User, passkey: NewPasskey): void {
      if (factors.passkey(passkey.id)) throw new LifecycleError('exists', 'this passkey is already registered');
      factors.addPasskey({ ...passkey, userId: user.id, createdAt: epochSeconds() });
      log.event(actor, 'user.passkey_added', { userId: user.id, details: { passkey: passkey.name } });
    },
    /** Removes one of the user's passkeys; false when the user has no passkey with that id. */
    removePasskey(actor: Actor, user: User, id: string): boolean {
      const removed = db
        .transaction(() => factors.removePasskey(user.id, id) && revocations.endSessions(user.id))
        .immediate();
      if (removed) log.event(actor, 'user.passkey_removed', { userId: user.id, details: ended(removed) });
      return removed !== false;
    },
    /** An admin's reset: every factor goes and every session of the user ends. */
    resetFactors(actor: Actor, user: User): { totp: boolean; passkeys: number } {
      const done = db
        .transaction(() => {
          const totp = factors.removeTotp(user.id);
          factors.removeRecoveryCodes(user.id);
          const passkeys = factors.removePasskeys(user.id);
          const sessions = revocations.endSessions(user.id);
          return { totp, passkeys, sessions: sessions.provider + sessions.pages };
        })
        .immediate();
      log.event(actor, 'user.factors_reset', {
        userId: user.id,
        details: { totp: done.totp, passkeys: done.passkeys, sessions_ended: done.sessions },
      });
      return { totp: done.totp, passkeys: done.passkeys };
    },
  };
}
