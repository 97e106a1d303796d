// The lifecycle operations (src/grants/) as the CLI runs them: on its own connection to the
// database, acting as the operator, with refusals turned into one-line errors.
import { createLifecycle, LifecycleError } from '../grants/index.js';
import { createStores } from '../storage/index.js';
import { cliAudit } from './audit.js';
import type { CommandContext } from './database.js';
import { CliError, safe } from './io.js';

export function cliLifecycle({ config, sql }: Pick<CommandContext, 'config' | 'sql'>) {
  const stores = createStores(sql, { accessTokenTtl: config.accessTokenTtl });
  return { stores, ops: createLifecycle(stores, cliAudit(sql)) };
}

/** Runs an operation; a refusal (the last admin, a malformed domain) becomes a CliError. */
export async function refused<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LifecycleError) throw new CliError(safe(err.message));
    throw err;
  }
}
