import type { Command } from 'commander';
import { type Audit, createAudit } from '../audit/index.js';
import { type AuditRow, MAX_AUDIT_LIMIT, parseSince, queryAudit } from '../audit/query.js';
import { epochSeconds } from '../lib/duration.js';
import { createLogger } from '../log/logger.js';
import type { Sql } from '../storage/engine.js';
import { createUserRepository } from '../storage/users.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';

/**
 * The audit trail for what a CLI command changes. The row is the record; the JSON log line is the
 * server's (its stdout goes to the log collector), so the CLI does not print one on the admin's terminal.
 */
export function cliAudit(sql: Sql): Audit {
  return createAudit(sql, createLogger('silent'));
}

interface AuditOptions {
  user?: string;
  client?: string;
  event?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

export function registerAuditCommand(program: Command, io: CliIo): void {
  program
    .command('audit')
    .description('show security events, newest first: logins, consents, tokens, revocations, admin changes')
    .option('--user <username>', "only this user's events")
    .option('--client <client_id>', "only this agent's events")
    .option('--event <name>', 'only this event, or family: login matches login.success and login.failure')
    .option('--since <when>', 'only events since: an age (30m, 1h, 2d, 1w), epoch seconds, or an ISO 8601 date')
    .option('--limit <n>', 'at most this many events (default 100)')
    .option('--json', 'print JSON')
    .action((opts: AuditOptions) => showAudit(io, opts));
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= MAX_AUDIT_LIMIT)) throw new CliError(`--limit must be a number from 1 to ${MAX_AUDIT_LIMIT}`);
  return n;
}

function since(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const at = parseSince(raw, epochSeconds());
  if (at === undefined) throw new CliError('--since must be an age like 30m, 1h or 2d, epoch seconds, or a date');
  return at;
}

async function showAudit(io: CliIo, opts: AuditOptions): Promise<void> {
  const limit = parseLimit(opts.limit);
  const from = since(opts.since);
  await withDatabase(io, async ({ sql }) => {
    let userId: string | undefined;
    if (opts.user !== undefined) {
      userId = (await createUserRepository(sql).findByUsername(opts.user))?.id;
      if (!userId) throw new CliError(`no user named ${safe(opts.user)}`);
    }
    const rows = await queryAudit(sql, { userId, clientId: opts.client, event: opts.event, since: from, limit });
    if (opts.json) return printJson(io, rows);
    if (rows.length === 0) return printLine(io, 'no matching audit events');
    printTable(
      io,
      ['TIME', 'EVENT', 'RESULT', 'USER', 'CLIENT', 'RESOURCE', 'GRANT', 'IP'],
      rows.map((r) => [
        formatTime(r.at),
        r.event,
        r.result,
        userCell(r),
        r.clientId ?? '-',
        r.resource ?? '-',
        r.grantId ?? '-',
        r.ip ?? '-',
      ]),
    );
  });
}

/** The username; for a failed login with an unknown name, what was typed (truncated, in quotes). */
function userCell(row: AuditRow): string {
  if (row.username) return row.username;
  if (row.userId) return row.userId;
  const attempted = row.details?.username;
  return typeof attempted === 'string' ? JSON.stringify(attempted) : '-';
}
