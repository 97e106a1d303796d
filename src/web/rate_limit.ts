// Throttling: per-address request limits on the machine-facing endpoints, and exponential back-off
// on failed sign-ins per account and per address. Counters live in memory (rate-limiter-flexible):
// they are lost on restart, which only ever gives an attacker one fresh window, and nothing an
// attacker sends can lock a real user out for longer than the largest single block.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { LoginThrottleConfig, RateLimitConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
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
export function rateLimit(rules: RateLimitRule[], log: Logger): Middleware {
  const active = rules
    .filter((r) => r.perMinute > 0)
    .map((rule) => ({
      rule,
      limiter: new RateLimiterMemory({ keyPrefix: `rl-${rule.name}`, points: rule.perMinute, duration: 60 }),
    }));
  return async (ctx, next) => {
    if (ctx.method === 'OPTIONS') return next();
    const hit = active.find((a) => a.rule.applies(ctx));
    if (!hit) return next();
    const address = clientAddress(ctx);
    // A refusal rejects with a RateLimiterRes; anything else is a real error for the error handler.
    const refused = await hit.limiter.consume(address).then(
      () => undefined,
      (res: unknown) => {
        if (res instanceof RateLimiterRes) return res;
        throw res;
      },
    );
    if (!refused) return next();
    const retryAfter = retryAfterSeconds(refused.msBeforeNext);
    log.warn({ event: 'rate_limit.refused', limit: hit.rule.name, ip: address, path: ctx.path }, 'rate limited');
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
  release(): void;
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

/**
 * How long an address where a user signed in stays exempt from that user's overall block. (The
 * memory store expires keys with setTimeout, which cannot wait longer than about 24.8 days.)
 */
const KNOWN_ADDRESS_SECONDS = 14 * 86400;

/**
 * Unknown usernames are counted exactly like known ones (same answer, same back-off), so the
 * throttle reveals nothing about which accounts exist. Usernames are hashed into keys so memory
 * per key is bounded whatever an attacker types.
 *
 * The overall per-username block is what a distributed attacker could use to lock a user out; it
 * is skipped at addresses where that user has signed in before, so the user keeps getting in from
 * their usual places while guesses from new addresses are slowed down.
 */
export function createLoginThrottle(cfg: LoginThrottleConfig): LoginThrottle {
  const failures = new RateLimiterMemory({ keyPrefix: 'login-failures', points: 1, duration: cfg.window });
  const blocks = new RateLimiterMemory({ keyPrefix: 'login-blocks', points: 1, duration: cfg.maxBlock });
  const known = new RateLimiterMemory({ keyPrefix: 'login-known', points: 1, duration: KNOWN_ADDRESS_SECONDS });
  // Password checks in progress per key (argon2 takes a while); entries go when they reach 0.
  const inFlight = new Map<string, number>();
  // The counters are read, then written, across awaits (the limiter's API is promise-based): two
  // failures ending together would both read n and both write n + 1. Every read-modify-write of the
  // throttle's state runs one at a time (memory operations only; the password check is outside).
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
  const userHash = (username: string) => createHash('sha256').update(username.trim().toLowerCase()).digest('base64url');

  // The memory store keeps an expired record until its timer fires: a record counts only while
  // msBeforeNext is positive.
  const live = async (limiter: RateLimiterMemory, key: string) => {
    const res = await limiter.get(key);
    return res && res.msBeforeNext > 0 ? res : null;
  };

  const keysFor = async (user: string, address: string) => {
    const here = `${user}@${address}`;
    const list: [ThrottleScope, string, number][] = [
      ['user_from_address', `ua:${here}`, cfg.perUserAndAddress],
      ['address', `a:${address}`, cfg.perAddress],
    ];
    if (!(await live(known, here))) list.push(['user', `u:${user}`, cfg.perUser]);
    return list;
  };

  const refused = (retryAfter: number): LoginAttempt => ({
    retryAfter,
    failed: async () => [],
    succeeded: async () => {},
    release: () => {},
  });

  return {
    begin(username, address) {
      return exclusive(() => beginAttempt(username, address));
    },
  };

  async function beginAttempt(username: string, address: string): Promise<LoginAttempt> {
    const user = userHash(username);
    const keys = await keysFor(user, address);
    // Runs exclusively (as do failed/succeeded), so the counts read here include every check that
    // has ended and `ahead` every check still running.
    const ahead = keys.map(([, key]) => inFlight.get(key) ?? 0);
    for (const [, key] of keys) inFlight.set(key, (inFlight.get(key) ?? 0) + 1);

    let open = true;
    const release = () => {
      if (!open) return;
      open = false;
      for (const [, key] of keys) {
        const left = (inFlight.get(key) ?? 1) - 1;
        if (left > 0) inFlight.set(key, left);
        else inFlight.delete(key);
      }
    };
    let wait = 0;
    let full = false;
    try {
      for (const [i, [, key, free]] of keys.entries()) {
        const block = await live(blocks, key);
        if (block && block.consumedPoints > 1) wait = Math.max(wait, retryAfterSeconds(block.msBeforeNext));
        // How many checks may run at once: the key's remaining free failures, and once those are
        // used up (between blocks), one at a time.
        const room = Math.max(1, free - ((await live(failures, key))?.consumedPoints ?? 0));
        if ((ahead[i] ?? 0) >= room) full = true;
      }
    } catch (err) {
      release();
      throw err;
    }
    if (wait > 0 || full) {
      release();
      return refused(wait > 0 ? wait : 1);
    }
    return {
      retryAfter: 0,
      release,
      failed: () =>
        exclusive(async () => {
          const started: ThrottleStarted[] = [];
          try {
            for (const [scope, key, free] of keys) {
              const count = ((await live(failures, key))?.consumedPoints ?? 0) + 1;
              const blockSeconds = backoffSeconds(count, free, cfg.firstBlock, cfg.maxBlock);
              // The count outlives the block by a whole window, so the next failure after a block doubles it.
              await failures.set(key, count, cfg.window + blockSeconds);
              if (blockSeconds > 0) {
                await blocks.block(key, blockSeconds);
                started.push({ scope, failures: count, blockSeconds });
              }
            }
          } finally {
            release();
          }
          return started;
        }),
      succeeded: () =>
        exclusive(async () => {
          const here = `${user}@${address}`;
          try {
            await Promise.all([failures.delete(`ua:${here}`), blocks.delete(`ua:${here}`)]);
            await known.set(here, 1, KNOWN_ADDRESS_SECONDS);
          } finally {
            release();
          }
        }),
    };
  }
}

/** What a sign-in form says while blocked: the same words whether or not the account exists. */
export function throttledMessage(seconds: number): string {
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const wait = seconds < 120 ? count(seconds, 'second') : count(Math.ceil(seconds / 60), 'minute');
  return `Too many failed sign-in attempts. Try again in ${wait}.`;
}
