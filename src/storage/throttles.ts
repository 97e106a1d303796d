// Counters shared by every node on the database: request limits, the sign-in back-off and the
// device-flow polling pace (migrations/0080_throttles.sql). In one node's memory they would let an
// attacker multiply every limit by the number of nodes behind a round-robin balancer. Each change
// is one upsert that returns the row as it now is, so two nodes counting at once never lose a
// count; a row past its expiry counts as absent and is restarted by the next upsert on its key.
import type { Sql } from './engine.js';

export interface Counter {
  points: number;
  expiresMs: number;
}

export interface DevicePace {
  /** The poll came before the interval had passed: answer `slow_down`. */
  slowed: boolean;
  /** The interval, in seconds, the device must now keep. */
  interval: number;
}

export type ThrottleRepository = ReturnType<typeof createThrottleRepository>;

interface CounterRow {
  points: number;
  expires_ms: number;
}

const toCounter = (r: CounterRow): Counter => ({ points: Number(r.points), expiresMs: Number(r.expires_ms) });

// A fixed window that starts with the first point: the row restarts once it has expired.
const CONSUME = `INSERT INTO throttles (key, points, expires_ms) VALUES (@key, @points, @expires)
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN throttles.expires_ms <= @now THEN excluded.points ELSE throttles.points + excluded.points END,
    expires_ms = CASE WHEN throttles.expires_ms <= @now THEN excluded.expires_ms ELSE throttles.expires_ms END
  RETURNING points, expires_ms`;

// Adds `delta` to a live count (never below 0) and moves the expiry to `expires`.
const ADJUST = `INSERT INTO throttles (key, points, expires_ms) VALUES (@key, @start, @expires)
  ON CONFLICT (key) DO UPDATE SET
    points = CASE
      WHEN throttles.expires_ms <= @now THEN excluded.points
      WHEN throttles.points + @delta < 0 THEN 0
      ELSE throttles.points + @delta END,
    expires_ms = excluded.expires_ms
  RETURNING points, expires_ms`;

const SET = `INSERT INTO throttles (key, points, expires_ms) VALUES (?, ?, ?)
  ON CONFLICT (key) DO UPDATE SET points = excluded.points, expires_ms = excluded.expires_ms`;

// RFC 8628 §3.5: every poll moves `last_ms`; one that comes before the interval has passed is
// `slowed` and adds `step` seconds to the interval. An expired row starts over.
const POLL = `INSERT INTO device_polls (code_hash, last_ms, interval_s, slowed, expires_ms)
  VALUES (@hash, @now, @initial, 0, @expires)
  ON CONFLICT (code_hash) DO UPDATE SET
    slowed = CASE
      WHEN device_polls.expires_ms <= @now THEN 0
      WHEN @now - device_polls.last_ms < device_polls.interval_s * 1000 THEN 1
      ELSE 0 END,
    interval_s = CASE
      WHEN device_polls.expires_ms <= @now THEN excluded.interval_s
      WHEN @now - device_polls.last_ms < device_polls.interval_s * 1000 THEN device_polls.interval_s + @step
      ELSE device_polls.interval_s END,
    last_ms = excluded.last_ms,
    expires_ms = CASE WHEN device_polls.expires_ms <= @now THEN excluded.expires_ms ELSE device_polls.expires_ms END
  RETURNING slowed, interval_s`;

export function createThrottleRepository(sql: Sql) {
  return {
    /** Runs fn in one transaction: the counts it reads are the ones it changes (PostgreSQL row locks). */
    atomically<T>(fn: () => Promise<T>): Promise<T> {
      return sql.transaction(fn);
    },
    /** Adds `points` to the window of `key` (a new window of `windowMs` when none is live). */
    async consume(key: string, points: number, windowMs: number, nowMs: number): Promise<Counter> {
      const row = await sql.get<CounterRow>(CONSUME, { key, points, expires: nowMs + windowMs, now: nowMs });
      if (!row) throw new Error('throttle upsert returned no row');
      return toCounter(row);
    },
    /** The live count of `key`, if any. */
    async get(key: string, nowMs: number): Promise<Counter | undefined> {
      const row = await sql.get<CounterRow>(
        'SELECT points, expires_ms FROM throttles WHERE key = ? AND expires_ms > ?',
        [key, nowMs],
      );
      return row && toCounter(row);
    },
    /** Replaces the count of `key`. */
    async set(key: string, points: number, expiresMs: number): Promise<void> {
      await sql.run(SET, [key, points, expiresMs]);
    },
    /** Adds `delta` (may be negative; the count stays at 0 or above) and returns the new count. */
    async adjust(key: string, delta: number, expiresMs: number, nowMs: number): Promise<number> {
      const row = await sql.get<CounterRow>(ADJUST, {
        key,
        start: Math.max(0, delta),
        delta,
        expires: expiresMs,
        now: nowMs,
      });
      return Number(row?.points ?? 0);
    },
    async remove(key: string): Promise<void> {
      await sql.run('DELETE FROM throttles WHERE key = ?', [key]);
    },
    /** Records one poll of a device code (by its hash) and says whether it came too early. */
    async devicePoll(
      hash: string,
      nowMs: number,
      opts: { initial: number; step: number; forgetAtMs: number },
    ): Promise<DevicePace> {
      const row = await sql.get<{ slowed: number; interval_s: number }>(POLL, {
        hash,
        now: nowMs,
        initial: opts.initial,
        step: opts.step,
        expires: opts.forgetAtMs,
      });
      return { slowed: Number(row?.slowed ?? 0) === 1, interval: Number(row?.interval_s ?? opts.initial) };
    },
    /** Deletes rows whose time is up (the purge timer). */
    async purgeExpired(nowMs: number): Promise<number> {
      const counters = await sql.run('DELETE FROM throttles WHERE expires_ms <= ?', [nowMs]);
      const polls = await sql.run('DELETE FROM device_polls WHERE expires_ms <= ?', [nowMs]);
      return counters.changes + polls.changes;
    },
  };
}
