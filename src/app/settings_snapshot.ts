// Requests to these paths (the provider's authorization, token and device authorization
// endpoints) read the version of the settings kept in memory once, however many settings they
// look up (src/storage/settings_cache.ts, src/storage/read_memo.ts). None of them changes a
// setting, so none needs to see a change of its own; every admin route runs without.
import type { Middleware } from 'koa';
import { withSettingsSnapshot } from '../storage/read_memo.js';

export function settingsSnapshot(paths: readonly (string | undefined)[]): Middleware {
  const only = new Set(paths.filter((p): p is string => p !== undefined));
  return (ctx, next) => (only.has(ctx.path) ? withSettingsSnapshot(next) : next());
}
