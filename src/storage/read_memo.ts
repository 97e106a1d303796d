// A memo of rows read during one token request, so a record looked up twice in that request (the
// refresh token the resource check reads before oidc-provider reads it again, the resource and its
// scopes that both the provider and the alert rules look up) costs one statement.
//
// It lives only as long as the function given to `withReadMemo`: src/app/token_transaction.ts opens
// it for the client lookup it makes just before the request's transaction, and keeps it through the
// transaction, where every other read happens. No other request can change those rows meanwhile (on
// SQLite the transaction holds the database; on PostgreSQL the token row is read FOR UPDATE), and
// every write of the request through the same repository updates or drops its entry. Nothing is
// shared between requests, so there is nothing to invalidate across them.
//
// Authorization requests get a narrower memo (withSettingsSnapshot): the version of the settings
// kept in memory (./settings_cache.ts), read once per request, and nothing else.
import { AsyncLocalStorage } from 'node:async_hooks';

const memo = new AsyncLocalStorage<Map<string, unknown>>();

// Memos that hold the settings version only (withSettingsSnapshot): rows are not kept in them.
const settingsOnly = new WeakSet<Map<string, unknown>>();

/** Runs fn with a fresh memo; statements awaited inside it see the same one. */
export function withReadMemo<T>(fn: () => Promise<T>): Promise<T> {
  return memo.run(new Map(), fn);
}

/**
 * Runs fn (a request that never changes settings: an authorization or token request) reading the
 * settings version of ./settings_cache.ts once instead of at every setting it looks up. Nothing
 * else is kept. A request that changes settings must not run in one: it would not see its own change.
 */
export function withSettingsSnapshot<T>(fn: () => Promise<T>): Promise<T> {
  if (memo.getStore()) return fn();
  const entries = new Map<string, unknown>();
  settingsOnly.add(entries);
  return memo.run(entries, fn);
}

/** The memo of the current token request, or undefined outside one (then every read goes to the database). */
export function readMemo(): Map<string, unknown> | undefined {
  const entries = memo.getStore();
  return entries && !settingsOnly.has(entries) ? entries : undefined;
}

/**
 * The memoised value of `key`, else what `load` reads (remembered, including "not found").
 * Outside a memo it is just `load()`. `settings`: the key is the settings version, which a
 * settings snapshot keeps too.
 */
export async function memoised<T>(key: string, load: () => Promise<T>, opts: { settings?: boolean } = {}): Promise<T> {
  const entries = memo.getStore();
  if (!entries || (settingsOnly.has(entries) && !opts.settings)) return load();
  if (entries.has(key)) return entries.get(key) as T;
  const value = await load();
  entries.set(key, value);
  return value;
}
