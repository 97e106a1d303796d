import { randomUUID } from 'node:crypto';
import { epochSeconds } from '../lib/duration.js';
import type { Db } from './db.js';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  isAdmin: boolean;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  disabled: number;
  created_at: number;
  updated_at: number;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

export function usernameProblem(username: string): string | undefined {
  if (!USERNAME.test(username)) {
    return 'username must be 1-64 characters: letters, digits and . _ @ + - (starting with a letter or digit)';
  }
  return undefined;
}

export class UserExistsError extends Error {
  override name = 'UserExistsError';
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    isAdmin: row.is_admin === 1,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;

export function createUserRepository(db: Db) {
  const insert = db.prepare(
    'INSERT INTO users (id, username, password_hash, is_admin, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)',
  );
  const byName = db.prepare('SELECT * FROM users WHERE username = ?');
  const byId = db.prepare('SELECT * FROM users WHERE id = ?');
  const all = db.prepare('SELECT * FROM users ORDER BY username');
  const setHash = db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?');
  const setDisabled = db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?');
  const setAdmin = db.prepare('UPDATE users SET is_admin = ?, updated_at = ? WHERE id = ?');
  const enabledAdmins = db.prepare('SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0').pluck();

  return {
    create(username: string, passwordHash: string, isAdmin: boolean): User {
      const id = randomUUID();
      const now = epochSeconds();
      try {
        insert.run(id, username, passwordHash, isAdmin ? 1 : 0, now, now);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
          throw new UserExistsError(`user ${username} already exists`);
        throw err;
      }
      return toUser(byId.get(id) as UserRow);
    },
    findByUsername(username: string): User | undefined {
      const row = byName.get(username) as UserRow | undefined;
      return row && toUser(row);
    },
    findById(id: string): User | undefined {
      const row = byId.get(id) as UserRow | undefined;
      return row && toUser(row);
    },
    list(): User[] {
      return (all.all() as UserRow[]).map(toUser);
    },
    setPasswordHash(id: string, passwordHash: string): void {
      setHash.run(passwordHash, epochSeconds(), id);
    },
    setDisabled(id: string, disabled: boolean): void {
      setDisabled.run(disabled ? 1 : 0, epochSeconds(), id);
    },
    setAdmin(id: string, isAdmin: boolean): void {
      setAdmin.run(isAdmin ? 1 : 0, epochSeconds(), id);
    },
    /** Admins who can sign in to the console. */
    countEnabledAdmins(): number {
      return enabledAdmins.get() as number;
    },
  };
}
