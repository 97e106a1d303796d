// Browser sessions of the account and admin pages (not oidc-provider's sessions). The id is 256
// random bits handed to the browser once; only its SHA-256 is stored, so a database leak yields no
// usable cookie.
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './engine.js';

export interface WebSession {
  idHash: string;
  userId: string;
  createdAt: number;
  /** The earlier of the absolute end (createdAt + lifetime) and the idle deadline; moved by extend(). */
  expiresAt: number;
}

interface Row {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

export type WebSessionRepository = ReturnType<typeof createWebSessionRepository>;

const INSERT =
  'INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at) VALUES (@id_hash, @user_id, @now, @expires)';
const BY_HASH = 'SELECT * FROM web_sessions WHERE id_hash = ? AND expires_at > ?';
const REMOVE = 'DELETE FROM web_sessions WHERE id_hash = ?';
const SET_EXPIRY = 'UPDATE web_sessions SET expires_at = ? WHERE id_hash = ?';
const REMOVE_USER = 'DELETE FROM web_sessions WHERE user_id = ?';
const PURGE = 'DELETE FROM web_sessions WHERE expires_at <= ?';

export function createWebSessionRepository(sql: Sql) {
  return {
    /** Starts a session; returns the id for the cookie (never stored). */
    async create(userId: string, ttl: number, now: number): Promise<{ id: string; session: WebSession }> {
      const id = randomBytes(32).toString('base64url');
      const idHash = hashSessionId(id);
      // Sessions are few and short-lived: dropping the expired ones at each sign-in keeps the table small.
      await sql.run(PURGE, [now]);
      await sql.run(INSERT, { id_hash: idHash, user_id: userId, now, expires: now + ttl });
      return { id, session: { idHash, userId, createdAt: now, expiresAt: now + ttl } };
    },
    /** The live session with this cookie value, if any. */
    async find(id: string, now: number): Promise<WebSession | undefined> {
      if (!SESSION_ID.test(id)) return undefined;
      const row = await sql.get<Row>(BY_HASH, [hashSessionId(id), now]);
      return row && { idHash: row.id_hash, userId: row.user_id, createdAt: row.created_at, expiresAt: row.expires_at };
    },
    /** Moves a live session's end (the idle deadline after activity). */
    async extend(idHash: string, expiresAt: number): Promise<void> {
      await sql.run(SET_EXPIRY, [expiresAt, idHash]);
    },
    async delete(id: string): Promise<boolean> {
      return SESSION_ID.test(id) && (await sql.run(REMOVE, [hashSessionId(id)])).changes > 0;
    },
    async deleteForUser(userId: string): Promise<number> {
      return (await sql.run(REMOVE_USER, [userId])).changes;
    },
  };
}
