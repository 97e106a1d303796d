// Throttling: per-address request limits on the machine-facing endpoints, and exponential back-off
// on failed sign-ins per account and per address. Counters live in the database
// (src/storage/throttles.ts), so every node behind a load balancer counts the same requests and a
// restart gives an attacker no fresh window; nothing an attacker sends can lock a real user out for
// longer than the largest single block.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, Middleware } from 'koa';
import type { LoginThrottleConfig, RateLimitConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { ThrottleRepository } from '../storage/throttles.js';
import { sendError } from './errors.js';

/**
 * The client's address. Koa's ctx.ip reads X-Forwarded-For only when the app trusts the proxy
 * (MCP_OAUTH_TRUST_PROXY), and then only the entry the proxy itself appended (maxIpsCount = 1,
 * set in src/provider/index.ts): entries a client writes into the header are never a key.
 */
export function clientAddress(ctx: { ip?: string }): string {
  return addressKey(ctx.ip || 'unknown');
}

/**
 * The counter key of an address: an IPv4 address as is (also when IPv4-mapped), an IPv6 address
 * by its /64 prefix, since one subscriber usually holds a whole /64 and could otherwise take a new
 * address for every guess.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

// ---------------------------------------------------------------------------------------------
// Per-address request limits

export interface RateLimitRule {
  /** Names the counter and appears in the log line. */
  name: string;
  /** Requests per minute per address; 0 switches the rule off. */
  perMinute: number;
  applies: (ctx: Context) => boolean;
}

// Paths are compared as they are after src/app/canonical_path.ts put them in their one spelling.
const exact = (...paths: string[]) => {
  const set = new Set(paths);
  return (ctx: Context) => set.has(ctx.path);
};
const under = (prefix: string) => (ctx: Context) => ctx.path === prefix || ctx.path.startsWith(`${prefix}/`);

/** The endpoint groups with a per-address limit, each configured by MCP_OAUTH_RATE_LIMIT_*. */
export function defaultRules(
  limits: RateLimitConfig,
  paths: {
    authorization: string;
    token: string;
    revocation: string;
    registration: string;
    introspection: string;
    feed: string;
    device_authorization?: string;
    code_verification?: string;
  },
): RateLimitRule[] {
  const codeEntry = paths.code_verification;
  return [
    // Not the resume URL below it: that is the same authorization coming back from sign-in and consent.
    { name: 'authorize', perMinute: limits.authorize, applies: exact(paths.authorization) },
    {
      name: 'token',
      perMinute: limits.token,
      applies: exact(
        paths.token,
        paths.revocation,
        ...(paths.device_authorization ? [paths.device_authorization] : []),
      ),
    },
    // Each POST tries a user code (RFC 8628 §5.1): the page is throttled against guessing.
    {
      name: 'device',
      perMinute: codeEntry ? limits.device : 0,
      applies: (ctx: Context) => ctx.method === 'POST' && ctx.path === codeEntry,
    },
    { name: 'registration', perMinute: limits.registration, applies: under(paths.registration) },
    { name: 'introspection', perMinute: limits.introspection, applies: exact(paths.introspection) },
    { name: 'feed', perMinute: limits.feed, applies: under(paths.feed) },
    { name: 'admin', perMinute: limits.admin, applies: under('/admin/api') },
  ];
}

/**
 * 429 with Retry-After and an OAuth-style JSON error once an address has used its requests for the
 * minute. CORS preflights are not counted (they carry no credentials and change nothing).
 */
export function rateLimit(
  rules: RateLimitRule[],
  log: Logger,
  throttles: ThrottleRepository,
  clock: () => number = () => Date.now(),
): Middleware {
  const active = rules.filter((r) => r.perMinute > 0);
  return async (ctx, next) => {
    if (ctx.method === 'OPTIONS') return next();
    const rule = active.find((r) => r.applies(ctx));
    if (!rule) return next();
    const address = clientAddress(ctx);
    const now = clock();
    const used = await throttles.consume(`rl:${rule.name}:${address}`, 1, 60_000, now);
    if (used.points <= rule.perMinute) return next();
    const retryAfter = retryAfterSeconds(used.expiresMs - now);
    log.warn({ event: 'rate_limit.refused', limit: rule.name, ip: address, path: ctx.path }, 'rate limited');
    sendError(ctx, {
      status: 429,
      error: 'too_many_requests',
      description: `too many requests from this address; retry after ${retryAfter} seconds`,
      headers: { 'Retry-After': String(retryAfter) },
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Sign-in back-off

/**
 * What a block is counted on: one username from one address (a guesser at one place), one address
 * (spraying many usernames), one username from anywhere (guessing spread over many addresses).
 */
export type ThrottleScope = 'user_from_address' | 'address' | 'user';

export interface ThrottleStarted {
  scope: ThrottleScope;
  failures: number;
  blockSeconds: number;
}

/** One sign-in attempt, from the throttle's point of view. */
export interface LoginAttempt {
  /** Seconds to wait before trying again; when above 0 the password must not be checked. */
  readonly retryAfter: number;
  /** Counts a wrong password; returns the blocks it started (for the audit trail). */
  failed(): Promise<ThrottleStarted[]>;
  /**
   * Clears the count of this username at this address and remembers the address as one this user
   * signs in from. The address's and the username's overall counts stay: one good password must
   * not reset an attacker's progress elsewhere.
   */
  succeeded(): Promise<void>;
  /** Ends the attempt without a verdict (the check threw). failed() and succeeded() end it too. */
  release(): Promise<void>;
}

export interface LoginThrottle {
  /**
   * Starts an attempt at `username` from `address`. Attempts in progress are counted, so a burst
   * of parallel guesses gets no more password checks than sequential ones would.
   */
  begin(username: string, address: string): Promise<LoginAttempt>;
}

/** Block length after `failures` failures when `free` are allowed: first, 2×first, 4×first … up to `max`. */
export function backoffSeconds(failures: number, free: number, first: number, max: number): number {
  if (failures <= free) return 0;
  return Math.min(max, first * 2 ** Math.min(failures - free - 1, 30));
}

/** How long an address where a user signed in stays exempt from that user's overall block. */
const KNOWN_ADDRESS_MS = 14 * 86400_000;

/**
 * How long a password check counts as in progress when its node never ends it (it died mid-check):
 * far longer than an argon2 hash takes, short enough that a crash blocks nobody for long.
 */
const IN_FLIGHT_MS = 60_000;

/**
 * Unknown usernames are counted exactly like known ones (same answer, same back-off), so the
 * throttle reveals nothing about which accounts exist. Usernames are hashed into keys so a row's
 * size is bounded whatever an attacker types.
 *
 * The overall per-username block is what a distributed attacker could use to lock a user out; it
 * is skipped at addresses where that user has signed in before, so the user keeps getting in from
 * their usual places while guesses from new addresses are slowed down.
 *
 * Every read-modify-write of the counts is one transaction that first moves the in-progress count
 * of each key, in the same key order every time: on PostgreSQL that row lock makes the nodes take
 * turns on one key (and no two transactions can wait on each other in a cycle); on SQLite the
 * transaction holds the database. Two failures ending together on different nodes therefore count
 * two, and a burst of parallel guesses spread over the nodes gets no more password checks than
 * sequential ones would. The password check itself runs outside any transaction.
 */
export function createLoginThrottle(
  cfg: LoginThrottleConfig,
  throttles: ThrottleRepository,
  clock: () => number = () => Date.now(),
): LoginThrottle {
  const userHash = (username: string) => createHash('sha256').update(username.trim().toLowerCase()).digest('base64url');
  const failuresOf = (key: string) => `lf:${key}`;
  const blockOf = (key: string) => `lb:${key}`;
  const inFlightOf = (key: string) => `li:${key}`;
  const knownOf = (here: string) => `lk:${here}`;

  const keysFor = async (user: string, address: string, now: number) => {
    const here = `${user}@${address}`;
    const list: [ThrottleScope, string, number][] = [
      ['user_from_address', `ua:${here}`, cfg.perUserAndAddress],
      ['address', `a:${address}`, cfg.perAddress],
    ];
    if (!(await throttles.get(knownOf(here), now))) list.push(['user', `u:${user}`, cfg.perUser]);
    return list;
  };

  /** Ends the checks of `keys` (within the caller's transaction): one fewer in progress on each. */
  const endChecks = async (keys: [ThrottleScope, string, number][], now: number) => {
    for (const [, key] of keys) await throttles.adjust(inFlightOf(key), -1, now + IN_FLIGHT_MS, now);
  };

  const refused = (retryAfter: number): LoginAttempt => ({
    retryAfter,
    failed: async () => [],
    succeeded: async () => {},
    release: async () => {},
  });

  return {
    begin(username, address) {
      const user = userHash(username);
      return throttles.atomically(async () => {
        const now = clock();
        const keys = await keysFor(user, address, now);
        // Taken first (row locks on PostgreSQL), so the counts read below include every check that
        // has ended and `ahead` every check still running, on every node.
        const ahead: number[] = [];
        for (const [, key] of keys) {
          ahead.push((await throttles.adjust(inFlightOf(key), 1, now + IN_FLIGHT_MS, now)) - 1);
        }
        let wait = 0;
        let full = false;
        for (const [i, [, key, free]] of keys.entries()) {
          const block = await throttles.get(blockOf(key), now);
          if (block) wait = Math.max(wait, retryAfterSeconds(block.expiresMs - now));
          // How many checks may run at once: the key's remaining free failures, and once those are
          // used up (between blocks), one at a time.
          const room = Math.max(1, free - ((await throttles.get(failuresOf(key), now))?.points ?? 0));
          if ((ahead[i] ?? 0) >= room) full = true;
        }
        if (wait > 0 || full) {
          await endChecks(keys, now);
          return refused(wait > 0 ? wait : 1);
        }
        return attempt(user, address, keys);
      });
    },
  };

  function attempt(user: string, address: string, keys: [ThrottleScope, string, number][]): LoginAttempt {
    let open = true;
    // Runs `work` with the checks of this attempt ended, once, in the same transaction.
    const ending = <T>(work: (now: number) => Promise<T>, otherwise: T): Promise<T> => {
      if (!open) return Promise.resolve(otherwise);
      open = false;
      return throttles.atomically(async () => {
        const now = clock();
        await endChecks(keys, now);
        return work(now);
      });
    };
    return {
      retryAfter: 0,
      release: () => ending(async () => {}, undefined),
      failed: () =>
        ending(async (now) => {
          const started: ThrottleStarted[] = [];
          for (const [scope, key, free] of keys) {
            const count = ((await throttles.get(failuresOf(key), now))?.points ?? 0) + 1;
            const blockSeconds = backoffSeconds(count, free, cfg.firstBlock, cfg.maxBlock);
            // The count outlives the block by a whole window, so the next failure after a block doubles it.
            await throttles.set(failuresOf(key), count, now + (cfg.window + blockSeconds) * 1000);
            if (blockSeconds > 0) {
              await throttles.set(blockOf(key), 1, now + blockSeconds * 1000);
              started.push({ scope, failures: count, blockSeconds });
            }
          }
          return started;
        }, []),
      succeeded: () =>
        ending(async (now) => {
          const here = `${user}@${address}`;
          await throttles.remove(failuresOf(`ua:${here}`));
          await throttles.remove(blockOf(`ua:${here}`));
          await throttles.set(knownOf(here), 1, now + KNOWN_ADDRESS_MS);
        }, undefined),
    };
  }
}

/** What a sign-in form says while blocked: the same words whether or not the account exists. */
export function throttledMessage(seconds: number): string {
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const wait = seconds < 120 ? count(seconds, 'second') : count(Math.ceil(seconds / 60), 'minute');
  return `Too many failed sign-in attempts. Try again in ${wait}.`;
}
