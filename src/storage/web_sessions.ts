// Browser sessions of the account and admin pages (not oidc-provider's sessions). The id is 256
// random bits handed to the browser once; only its SHA-256 is stored, so a database leak yields no
// usable cookie.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

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

export function createWebSessionRepository(db: Db) {
  const insert = db.prepare(
    'INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at) VALUES (@id_hash, @user_id, @now, @expires)',
  );
  const byHash = db.prepare('SELECT * FROM web_sessions WHERE id_hash = ? AND expires_at > ?');
  const remove = db.prepare('DELETE FROM web_sessions WHERE id_hash = ?');
  const setExpiry = db.prepare('UPDATE web_sessions SET expires_at = ? WHERE id_hash = ?');
  const removeUser = db.prepare('DELETE FROM web_sessions WHERE user_id = ?');
  const purge = db.prepare('DELETE FROM web_sessions WHERE expires_at <= ?');

  return {
    /** Starts a session; returns the id for the cookie (never stored). */
    create(userId: string, ttl: number, now: number): { id: string; session: WebSession } {
      const id = randomBytes(32).toString('base64url');
      const idHash = hashSessionId(id);
      // Sessions are few and short-lived: dropping the expired ones at each sign-in keeps the table small.
      purge.run(now);
      insert.run({ id_hash: idHash, user_id: userId, now, expires: now + ttl });
      return { id, session: { idHash, userId, createdAt: now, expiresAt: now + ttl } };
    },
    /** The live session with this cookie value, if any. */
    find(id: string, now: number): WebSession | undefined {
      if (!SESSION_ID.test(id)) return undefined;
      const row = byHash.get(hashSessionId(id), now) as Row | undefined;
      return row && { idHash: row.id_hash, userId: row.user_id, createdAt: row.created_at, expiresAt: row.expires_at };
    },
    /** Moves a live session's end (the idle deadline after activity). */
    extend(idHash: string, expiresAt: number): void {
      setExpiry.run(expiresAt, idHash);
    },
    delete(id: string): boolean {
      return SESSION_ID.test(id) && remove.run(hashSessionId(id)).changes > 0;
    },
    deleteForUser(userId: string): number {
      return removeUser.run(userId).changes;
    },
  };
}
