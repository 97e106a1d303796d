import { randomUUID } from 'node:crypto';
import { epochSeconds } from '../lib/duration.js';
import type { Sql } from './engine.js';

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

const INSERT =
  'INSERT INTO users (id, username, password_hash, is_admin, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)';
const BY_NAME = 'SELECT * FROM users WHERE username = ?';
const BY_ID = 'SELECT * FROM users WHERE id = ?';
const ALL = 'SELECT * FROM users ORDER BY username';
const SET_HASH = 'UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?';
const SET_DISABLED = 'UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?';
const SET_ADMIN = 'UPDATE users SET is_admin = ?, updated_at = ? WHERE id = ?';
const ENABLED_ADMINS = 'SELECT id FROM users WHERE is_admin = 1 AND disabled = 0';

/** A unique-constraint violation: SQLite's code, or PostgreSQL's SQLSTATE unique_violation. */
const isUniqueViolation = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
};

export function createUserRepository(sql: Sql) {
  const findById = async (id: string): Promise<User | undefined> => {
    const row = await sql.get<UserRow>(BY_ID, [id]);
    return row && toUser(row);
  };
  return {
    async create(username: string, passwordHash: string, isAdmin: boolean): Promise<User> {
      const id = randomUUID();
      const now = epochSeconds();
      try {
        await sql.run(INSERT, [id, username, passwordHash, isAdmin ? 1 : 0, now, now]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new UserExistsError(`user ${username} already exists`);
        throw err;
      }
      return (await findById(id)) as User;
    },
    async findByUsername(username: string): Promise<User | undefined> {
      const row = await sql.get<UserRow>(BY_NAME, [username]);
      return row && toUser(row);
    },
    findById,
    async list(): Promise<User[]> {
      return (await sql.all<UserRow>(ALL)).map(toUser);
    },
    async setPasswordHash(id: string, passwordHash: string): Promise<void> {
      await sql.run(SET_HASH, [passwordHash, epochSeconds(), id]);
    },
    async setDisabled(id: string, disabled: boolean): Promise<void> {
      await sql.run(SET_DISABLED, [disabled ? 1 : 0, epochSeconds(), id]);
    },
    async setAdmin(id: string, isAdmin: boolean): Promise<void> {
      await sql.run(SET_ADMIN, [isAdmin ? 1 : 0, epochSeconds(), id]);
    },
    /**
     * Admins who can sign in to the console. Inside a transaction the rows stay locked until it ends
     * (PostgreSQL), so two admins demoting each other at once are counted one after the other.
     */
    async countEnabledAdmins(): Promise<number> {
      return (await sql.all(`${ENABLED_ADMINS}${sql.dialect.forUpdate}`)).length;
    },
  };
}
