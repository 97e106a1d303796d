// People: disabling and enabling a user, a new password, the admin role. Whatever changes a user's
// standing ends every browser session they have (oidc-provider's and the account and console
// pages'), so a cookie taken before the change leads to the sign-in form, not to consent.
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Stores } from '../storage/index.js';
import type { User } from '../storage/users.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

export function userOperations(stores: Stores, audit: Audit) {
  const { db, users, revocations, grantRecords } = stores;
  const log = auditFor(audit, grantRecords);

  /**
   * Refuses a change that would leave nobody able to use the console. Read in the same (immediate)
   * transaction as the write, so two admins disabling each other at once cannot both succeed.
   */
  const keepAnAdmin = (user: User, verb: string): void => {
    const current = users.findById(user.id);
    if (current?.isAdmin && !current.disabled && users.countEnabledAdmins() <= 1) {
      throw new LifecycleError(
        'last_admin',
        `${user.username} is the last enabled admin: make another user an admin before you ${verb} them`,
      );
    }
  };
  const notSelf = (actor: Actor, user: User, what: string): void => {
    if (actor.kind === 'admin' && actor.id === user.id) {
      throw new LifecycleError('self', `an admin cannot ${what} their own account; ask another admin`);
    }
  };

  return {
    /**
     * Disables the user (no sign-in, no token), revokes all their grants and ends their sessions;
     * undefined when already disabled. Refuses the last enabled admin and an admin's own account.
     */
    disableUser(actor: Actor, user: User): string[] | undefined {
      notSelf(actor, user, 'disable');
      const done = db
        .transaction(() => {
          if (users.findById(user.id)?.disabled !== false) return undefined;
          keepAnAdmin(user, 'disable');
          const ids = revocations.disableUser(user.id, actedBy(actor), epochSeconds());
          return { ids, sessions: revocations.endSessions(user.id) };
        })
        .immediate();
      if (!done) return undefined;
      log.event(actor, 'user.disabled', {
        userId: user.id,
        details: { grants_revoked: done.ids.length, sessions_ended: done.sessions.provider + done.sessions.pages },
      });
      log.revoked(actor, done.ids, { reason: 'user disabled', userId: user.id });
      return done.ids;
    },
    /**
     * False when the user was not disabled. Sessions are ended here too: one that outlived an
     * earlier disable (made before sessions were ended with it) must not come back to life.
     */
    enableUser(actor: Actor, user: User): boolean {
      const changed = db
        .transaction(() => {
          if (users.findById(user.id)?.disabled !== true) return false;
          revocations.enableUser(user.id, epochSeconds());
          revocations.endSessions(user.id);
          return true;
        })
        .immediate();
      if (changed) log.event(actor, 'user.enabled', { userId: user.id });
      return changed;
    },
    /** Sets a new password (already hashed) and ends every session the user has. */
    changePassword(actor: Actor, user: User, passwordHash: string): void {
      const sessions = db
        .transaction(() => {
          users.setPasswordHash(user.id, passwordHash);
          return revocations.endSessions(user.id);
        })
        .immediate();
      log.event(actor, 'user.password_changed', {
        userId: user.id,
        details: { sessions_ended: sessions.provider + sessions.pages },
      });
    },
    /** Grants or takes away the admin role; false when unchanged. Refuses to demote the last enabled admin. */
    setAdmin(actor: Actor, user: User, isAdmin: boolean): boolean {
      if (!isAdmin) notSelf(actor, user, 'demote');
      const changed = db
        .transaction(() => {
          const current = users.findById(user.id);
          if (!current || current.isAdmin === isAdmin) return false;
          if (!isAdmin) keepAnAdmin(user, 'demote');
          users.setAdmin(user.id, isAdmin);
          // The console sessions of a demoted admin carried admin rights: end them.
          if (!isAdmin) revocations.endSessions(user.id);
          return true;
        })
        .immediate();
      if (changed) log.event(actor, 'user.role_changed', { userId: user.id, details: { admin: isAdmin } });
      return changed;
    },
  };
}
