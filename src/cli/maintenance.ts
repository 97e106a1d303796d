import type { Command } from 'commander';
import { pruneAudit } from '../audit/query.js';
import { epochSeconds } from '../lib/duration.js';
import { purgeExpired } from '../storage/purge.js';
import { createRevocationService } from '../storage/revocations.js';
import { withDatabase, withNewDatabase } from './database.js';
import { type CliIo, printLine } from './io.js';

export function registerMaintenanceCommands(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description('apply pending database migrations (every command also does this first)')
    .action(() => runMigrate(io));
  program
    .command('purge')
    .description(
      'delete expired codes, tokens, sessions, grants, signing keys and revocation-feed entries, and audit events past MCP_OAUTH_AUDIT_RETENTION',
    )
    .action(() => runPurge(io));
}

async function runMigrate(io: CliIo): Promise<void> {
  await withNewDatabase(io, async ({ applied }) => {
    if (applied.length === 0) return printLine(io, 'database is up to date');
    for (const name of applied) printLine(io, `applied ${name}`);
  });
}

async function runPurge(io: CliIo): Promise<void> {
  await withDatabase(io, async ({ config, sql }) => {
    const now = epochSeconds();
    const { oidcRows, signingKeys, unusedClients } = await purgeExpired(sql, now, {
      unusedClientTtl: config.unusedClientTtl,
    });
    printLine(io, `purged ${oidcRows} expired provider rows and ${signingKeys} expired signing keys`);
    if (unusedClients > 0) {
      printLine(io, `purged ${unusedClients} agent registrations never used within MCP_OAUTH_UNUSED_CLIENT_TTL`);
    }
    const feed = await createRevocationService(sql, { accessTokenTtl: config.accessTokenTtl }).purgeExpired(now);
    const audit = await pruneAudit(sql, now, config.auditRetention);
    printLine(
      io,
      `purged ${feed} expired revocation-feed entries and ${audit} audit events older than ${days(config.auditRetention)}`,
    );
  });
}

function days(seconds: number): string {
  const d = seconds / 86400;
  return Number.isInteger(d) ? `${d} day${d === 1 ? '' : 's'}` : `${seconds}s`;
}
