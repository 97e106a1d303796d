import type { Command } from 'commander';
import { parseDuration } from '../lib/duration.js';
import { ensureSigningKey, type KeyStatus, keyStatuses, rotateSigningKey } from '../provider/keys.js';
import { createKeyRepository } from '../storage/keys.js';
import { cliAudit } from './audit.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable } from './io.js';

// Tokens are checked with some clock tolerance; a retired key stays published that much longer.
const CLOCK_SKEW = 300;
const MAX_DELAY = 30 * 86400;

export function registerKeyCommands(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('inspect and rotate the access-token signing keys');
  keys
    .command('list')
    .description('list published keys: signing, pending (published, not yet signing) or retired')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listKeys(io, opts));
  keys
    .command('rotate')
    .description('publish a new key now; it starts signing after the delay and the current key retires then')
    .option(
      '--delay <seconds>',
      'seconds (or 5m, 12h, 1d) before the new key signs; default MCP_OAUTH_KEY_ACTIVATION_DELAY',
    )
    .option('--json', 'print the new key as JSON')
    .action((opts: { delay?: string; json?: boolean }) => rotateKey(io, opts));
}

function parseDelay(raw: string): number {
  const seconds = parseDuration(raw);
  if (seconds === undefined || seconds > MAX_DELAY) {
    throw new CliError(`--delay must be a duration like 0, 900, 15m or 1d, at most ${MAX_DELAY}s`);
  }
  return seconds;
}

function printKeys(io: CliIo, keys: KeyStatus[]): void {
  printTable(
    io,
    ['KID', 'STATE', 'ACTIVATES', 'EXPIRES'],
    keys.map((k) => [k.kid, k.state, formatTime(k.activatesAt), formatTime(k.expiresAt)]),
  );
}

async function listKeys(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const keys = await keyStatuses(createKeyRepository(sql));
    if (opts.json) return printJson(io, keys);
    if (keys.length === 0) return printLine(io, 'no signing keys; the server creates one when it starts');
    printKeys(io, keys);
  });
}

async function rotateKey(io: CliIo, opts: { delay?: string; json?: boolean }): Promise<void> {
  const explicitDelay = opts.delay === undefined ? undefined : parseDelay(opts.delay);
  await withDatabase(io, async ({ config, sql }) => {
    const delay = explicitDelay ?? config.keyActivationDelay;
    const repo = createKeyRepository(sql);
    // With no key at all, a pending key alone would leave nothing to sign with until it activates,
    // and no resource server can have cached a key set yet: the first key signs at once.
    const key = (await ensureSigningKey(repo))
      ? (await keyStatuses(repo))[0]
      : await rotateSigningKey(repo, { delay, maxTokenLifetime: config.accessTokenTtl + CLOCK_SKEW });
    if (!key) throw new Error('no signing key after rotation');
    await cliAudit(sql).record({
      event: 'key.rotated',
      result: 'success',
      details: { by: 'cli', kid: key.kid, activates_at: key.activatesAt },
    });
    if (opts.json) return printJson(io, key);
    printLine(io, `published key ${key.kid}; it signs from ${formatTime(key.activatesAt)}`);
    printKeys(io, await keyStatuses(repo));
  });
}
