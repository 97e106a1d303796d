import type { Command } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { hashPassword } from '../lib/passwords.js';
import { NO_PASSWORD } from '../storage/identities.js';
import { createUserRepository, type User, type UserRepository, usernameProblem } from '../storage/users.js';
import { cliAudit } from './audit.js';
import { withDatabase, withNewDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, readNewPassword, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';

interface JsonOption {
  json?: boolean;
}

export function registerUserCommands(program: Command, io: CliIo): void {
  const users = program.command('users').description('manage the people who log in to authorize agents');
  users
    .command('add')
    .description('add a user; the password is prompted for (or read from the first line of stdin)')
    .argument('<username>', 'the name they sign in with (letters, digits, . _ @ -)')
    .option('--admin', 'may use the admin console')
    .option('--sso-only', 'no password: they sign in through an identity provider (docs/single-sign-on.md)')
    .option('--json', 'print the user as JSON')
    .action((username: string, opts: JsonOption & { admin?: boolean; ssoOnly?: boolean }) =>
      addUser(io, username, opts),
    );
  users
    .command('list')
    .description('list users with their role (admin or user), status and creation time')
    .option('--json', 'print JSON')
    .action((opts: JsonOption) => listUsers(io, opts));
  users
    .command('disable')
    .description('refuse logins for a user and revoke every grant and token they hold')
    .argument('<username>', 'the user to disable')
    .action((username: string) => setDisabled(io, username, true));
  users
    .command('enable')
    .description('allow a disabled user again')
    .argument('<username>', 'the user to enable')
    .action((username: string) => setDisabled(io, username, false));
  users
    .command('promote')
    .description('make a user an admin (the admin console and API)')
    .argument('<username>', 'the user who becomes an admin')
    .action((username: string) => setAdmin(io, username, true));
  users
    .command('demote')
    .description('take the admin role away (refused for the last enabled admin); their sessions end')
    .argument('<username>', 'the admin who becomes a plain user')
    .action((username: string) => setAdmin(io, username, false));
  users
    .command('passwd')
    .description("set a user's password (prompted for, or read from the first line of stdin)")
    .argument('<username>', 'the user whose password changes')
    .action((username: string) => changePassword(io, username));
  users
    .command('reset-factors')
    .description("remove a user's passkeys and authenticator app (a lost phone or key); their sessions end")
    .argument('<username>', 'the user who signs in with the password alone again')
    .action((username: string) => resetFactors(io, username));
}

/** Everything about a user except the password hash. */
function userJson(user: User) {
  return {
    id: user.id,
    username: user.username,
    isAdmin: user.isAdmin,
    disabled: user.disabled,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/** The user named `username`, or the CLI's one-line refusal; every command that names a user uses it. */
export async function requireUser(repo: UserRepository, username: string): Promise<User> {
  const user = await repo.findByUsername(username);
  if (!user) throw new CliError(`no user named ${safe(username)}`);
  return user;
}

async function addUser(
  io: CliIo,
  username: string,
  opts: JsonOption & { admin?: boolean; ssoOnly?: boolean },
): Promise<void> {
  const problem = usernameProblem(username);
  if (problem) throw new CliError(problem);
  await withNewDatabase(io, async ({ sql }) => {
    const repo = createUserRepository(sql);
    // Checked before the prompt so nobody types a password for nothing; create() still refuses a race.
    if (await repo.findByUsername(username)) throw new CliError(`user ${username} already exists`);
    const hash = opts.ssoOnly ? NO_PASSWORD : await hashPassword(await readNewPassword(io));
    const user = await repo.create(username, hash, opts.admin === true);
    await cliAudit(sql).record({
      event: 'user.created',
      result: 'success',
      userId: user.id,
      details: { by: 'cli', admin: user.isAdmin },
    });
    if (opts.json) printJson(io, userJson(user));
    else printLine(io, `added user ${user.username}${user.isAdmin ? ' (admin)' : ''}`);
  });
}

async function listUsers(io: CliIo, opts: JsonOption): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const users = await createUserRepository(sql).list();
    if (opts.json) return printJson(io, users.map(userJson));
    if (users.length === 0) return printLine(io, 'no users; add one with: mcp-oauth users add USERNAME --admin');
    printTable(
      io,
      ['USERNAME', 'ROLE', 'STATUS', 'CREATED'],
      users.map((u) => [
        u.username,
        u.isAdmin ? 'admin' : 'user',
        u.disabled ? 'disabled' : 'active',
        formatTime(u.createdAt),
      ]),
    );
  });
}

async function setDisabled(io: CliIo, username: string, disabled: boolean): Promise<void> {
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    const user = await requireUser(stores.users, username);
    const word = disabled ? 'disabled' : 'enabled';
    if (!disabled) {
      if (!(await ops.enableUser(CLI_ACTOR, user))) return printLine(io, `user ${user.username} is already ${word}`);
      return printLine(io, `enabled user ${user.username}`);
    }
    // One transaction: the flag, every grant, every session, and a feed entry that kills tokens issued until now.
    const ids = await refused(() => ops.disableUser(CLI_ACTOR, user));
    if (!ids) return printLine(io, `user ${user.username} is already ${word}`);
    printLine(io, `disabled user ${user.username}; revoked ${ids.length} grant${ids.length === 1 ? '' : 's'}`);
  });
}

async function setAdmin(io: CliIo, username: string, isAdmin: boolean): Promise<void> {
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    const user = await requireUser(stores.users, username);
    if (!(await refused(() => ops.setAdmin(CLI_ACTOR, user, isAdmin)))) {
      return printLine(io, `${user.username} is already ${isAdmin ? 'an admin' : 'not an admin'}`);
    }
    printLine(io, isAdmin ? `${user.username} is now an admin` : `${user.username} is no longer an admin`);
  });
}

async function changePassword(io: CliIo, username: string): Promise<void> {
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    const user = await requireUser(stores.users, username);
    const hash = await hashPassword(await readNewPassword(io));
    // Every session of the user ends with the old password: a stolen cookie is worth nothing after.
    await ops.changePassword(CLI_ACTOR, user, hash);
    printLine(io, `changed the password of ${user.username}`);
  });
}

async function resetFactors(io: CliIo, username: string): Promise<void> {
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    const user = await requireUser(stores.users, username);
    const done = await ops.resetFactors(CLI_ACTOR, user);
    printLine(
      io,
      `reset the sign-in of ${user.username}: ${done.passkeys} passkey${done.passkeys === 1 ? '' : 's'}` +
        `${done.totp ? ' and the authenticator app' : ''} removed; every session ended`,
    );
  });
}
