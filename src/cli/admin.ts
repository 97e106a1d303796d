// `mcp-oauth admin-tokens`: API tokens for the admin JSON API. A token is shown once, at creation;
// only its hash is kept.
import type { Command } from 'commander';
import { epochSeconds } from '../lib/duration.js';
import { type AdminToken, createAdminTokenRepository } from '../storage/admin_tokens.js';
import { createUserRepository } from '../storage/users.js';
import { cliAudit } from './audit.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';

const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._@+:/-]{0,63}$/u;

export function registerAdminCommands(program: Command, io: CliIo): void {
  const tokens = program.command('admin-tokens').description('manage tokens for the admin JSON API (/admin/api)');
  tokens
    .command('create')
    .description('create a token; it is printed once and never again')
    .requiredOption('--name <name>', 'what the token is for (shown in lists and the audit log)')
    .option('--user <admin_username>', 'tie the token to this admin: it stops working if they stop being an admin')
    .option('--json', 'print JSON')
    .action((opts: { name: string; user?: string; json?: boolean }) => createToken(io, opts));
  tokens
    .command('list')
    .description('list tokens (never the secrets)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listTokens(io, opts));
  tokens
    .command('revoke')
    .description('revoke a token at once')
    .argument('<id>', 'the token id shown by admin-tokens list (not the token itself)')
    .action((id: string) => revokeToken(io, id));
}

function tokenJson(t: AdminToken, username: string | null) {
  return {
    id: t.id,
    name: t.name,
    user: username,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
  };
}

async function createToken(io: CliIo, opts: { name: string; user?: string; json?: boolean }): Promise<void> {
  if (!NAME.test(opts.name)) {
    throw new CliError(
      '--name must be 1-64 letters, digits, spaces and . _ @ + : / - (starting with a letter or digit)',
    );
  }
  await withDatabase(io, async ({ sql }) => {
    let userId: string | null = null;
    if (opts.user !== undefined) {
      const user = await createUserRepository(sql).findByUsername(opts.user);
      if (!user) throw new CliError(`no user named ${safe(opts.user)}`);
      if (!user.isAdmin || user.disabled) throw new CliError(`${safe(user.username)} is not an active admin`);
      userId = user.id;
    }
    const { token, record } = await createAdminTokenRepository(sql).create(opts.name, userId, epochSeconds());
    await cliAudit(sql).record({
      event: 'admin_token.created',
      result: 'success',
      userId,
      details: { by: 'cli', token_id: record.id, name: record.name },
    });
    if (opts.json) return printJson(io, { ...tokenJson(record, opts.user ?? null), token });
    io.stderr.write('This is the only time the token is shown. Store it now.\n');
    printLine(io, `id:    ${record.id}`);
    printLine(io, `token: ${token}`);
  });
}

async function listTokens(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const users = createUserRepository(sql);
    const nameOf = async (id: string | null) => (id ? ((await users.findById(id))?.username ?? id) : null);
    const tokens = [];
    for (const t of await createAdminTokenRepository(sql).list()) tokens.push(tokenJson(t, await nameOf(t.createdBy)));
    if (opts.json) return printJson(io, tokens);
    if (tokens.length === 0)
      return printLine(io, 'no admin API tokens; create one with: mcp-oauth admin-tokens create --name NAME');
    printTable(
      io,
      ['ID', 'NAME', 'USER', 'CREATED', 'LAST_USED', 'STATUS'],
      tokens.map((t) => [
        t.id,
        t.name,
        t.user ?? '-',
        formatTime(t.createdAt),
        formatTime(t.lastUsedAt),
        t.revokedAt === null ? 'active' : `revoked ${formatTime(t.revokedAt)}`,
      ]),
    );
  });
}

async function revokeToken(io: CliIo, id: string): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const repo = createAdminTokenRepository(sql);
    const token = await repo.find(id);
    if (!token) throw new CliError(`no admin API token ${safe(JSON.stringify(id))}`);
    if (!(await repo.revoke(id, epochSeconds()))) return printLine(io, `token ${token.id} was already revoked`);
    await cliAudit(sql).record({
      event: 'admin_token.revoked',
      result: 'success',
      userId: token.createdBy,
      details: { by: 'cli', token_id: token.id, name: token.name },
    });
    printLine(io, `revoked token ${token.id} (${safe(token.name)})`);
  });
}
