import type { Command } from 'commander';
import { epochSeconds } from '../lib/duration.js';
import { purgeExpired } from '../storage/purge.js';
import { withDatabase } from './database.js';
import { type CliIo, printLine } from './io.js';

export function registerMaintenanceCommands(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description('apply pending database migrations (every command also does this first)')
    .action(() => runMigrate(io));
  program
    .command('purge')
    .description('delete expired codes, tokens, sessions, grants and signing keys')
    .action(() => runPurge(io));
}

async function runMigrate(io: CliIo): Promise<void> {
  await withDatabase(io, ({ applied }) => {
    if (applied.length === 0) return printLine(io, 'database is up to date');
    for (const name of applied) printLine(io, `applied ${name}`);
  });
}

async function runPurge(io: CliIo): Promise<void> {
  await withDatabase(io, ({ db }) => {
    const { oidcRows, signingKeys } = purgeExpired(db, epochSeconds());
    printLine(io, `purged ${oidcRows} expired provider rows and ${signingKeys} expired signing keys`);
  });
}
