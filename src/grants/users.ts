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
  const { sql, users, revocations, grantRecords } = stores;
  const log = auditFor(audit, grantRecords);

  /**
   * Refuses a change that would leave nobody able to use the console. Read in the same (immediate)
   * transaction as the write, so two admins disabling each other at once cannot both succeed.
   */
  const keepAnAdmin = async (user: User, verb: string): Promise<void> => {
    const current = await users.findById(user.id);
    if (current?.isAdmin && !current.disabled && (await users.countEnabledAdmins()) <= 1) {
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
    async disableUser(actor: Actor, user: User): Promise<string[] | undefined> {
      notSelf(actor, user, 'disable');
      const done = await sql.transaction(async () => {
        if ((await users.findById(user.id))?.disabled !== false) return undefined;
        await keepAnAdmin(user, 'disable');
        const ids = await revocations.disableUser(user.id, actedBy(actor), epochSeconds());
        return { ids, sessions: await revocations.endSessions(user.id) };
      });
      if (!done) return undefined;
      await log.event(actor, 'user.disabled', {
        userId: user.id,
        details: { grants_revoked: done.ids.length, sessions_ended: done.sessions.provider + done.sessions.pages },
      });
      await log.revoked(actor, done.ids, { reason: 'user disabled', userId: user.id });
      return done.ids;
    },
    /**
     * False when the user was not disabled. Sessions are ended here too: one that outlived an
     * earlier disable (made before sessions were ended with it) must not come back to life.
     */
    async enableUser(actor: Actor, user: User): Promise<boolean> {
      const changed = await sql.transaction(async () => {
        if ((await users.findById(user.id))?.disabled !== true) return false;
        await revocations.enableUser(user.id, epochSeconds());
        await revocations.endSessions(user.id);
        return true;
      });
      if (changed) await log.event(actor, 'user.enabled', { userId: user.id });
      return changed;
    },
    /** Sets a new password (already hashed) and ends every session the user has. */
    async changePassword(actor: Actor, user: User, passwordHash: string): Promise<void> {
      const sessions = await sql.transaction(async () => {
        await users.setPasswordHash(user.id, passwordHash);
        return revocations.endSessions(user.id);
      });
      await log.event(actor, 'user.password_changed', {
        userId: user.id,
        details: { sessions_ended: sessions.provider + sessions.pages },
      });
    },
    /** Grants or takes away the admin role; false when unchanged. Refuses to demote the last enabled admin. */
    async setAdmin(actor: Actor, user: User, isAdmin: boolean): Promise<boolean> {
      if (!isAdmin) notSelf(actor, user, 'demote');
      const changed = await sql.transaction(async () => {
        const current = await users.findById(user.id);
        if (!current || current.isAdmin === isAdmin) return false;
        if (!isAdmin) await keepAnAdmin(user, 'demote');
        await users.setAdmin(user.id, isAdmin);
        // The console sessions of a demoted admin carried admin rights: end them.
        if (!isAdmin) await revocations.endSessions(user.id);
        return true;
      });
      if (changed) await log.event(actor, 'user.role_changed', { userId: user.id, details: { admin: isAdmin } });
      return changed;
    },
  };
}
