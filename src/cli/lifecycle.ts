// The lifecycle operations (src/grants/) as the CLI runs them: on its own connection to the
// database, acting as the operator, with refusals turned into one-line errors.
import { createLifecycle, LifecycleError } from '../grants/index.js';
import { createStores } from '../storage/index.js';
import { cliAudit } from './audit.js';
import type { CommandContext } from './database.js';
import { CliError, safe } from './io.js';

export function cliLifecycle({ config, db }: Pick<CommandContext, 'config' | 'db'>) {
  const stores = createStores(db, { accessTokenTtl: config.accessTokenTtl });
  return { stores, ops: createLifecycle(stores, cliAudit(db)) };
}

/** Runs an operation; a refusal (the last admin, a malformed domain) becomes a CliError. */
export function refused<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LifecycleError) throw new CliError(safe(err.message));
    throw err;
  }
}
