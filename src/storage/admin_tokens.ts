// Admin API tokens: 256 random bits shown once at creation; only the SHA-256 (hex) is stored. A
// token may be tied to the admin who created it, and then dies with that admin's rights.
import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../lib/constant_time.js';
import type { Sql } from './engine.js';

export interface AdminToken {
  id: string;
  name: string;
  /** The admin user the token acts for, or null for a token made by the operator at the CLI. */
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  token_hash: string;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** A prefix lets secret scanners recognise a leaked token. */
export const ADMIN_TOKEN_PREFIX = 'mcpadm_';
const TOKEN = /^mcpadm_[A-Za-z0-9_-]{43}$/;

const toToken = (r: Row): AdminToken => ({
  id: r.id,
  name: r.name,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export type AdminTokenRepository = ReturnType<typeof createAdminTokenRepository>;

const INSERT =
  'INSERT INTO admin_tokens (id, name, token_hash, created_by, created_at) VALUES (@id, @name, @hash, @by, @now)';
const BY_HASH = 'SELECT * FROM admin_tokens WHERE token_hash = ? AND revoked_at IS NULL';
const BY_ID = 'SELECT * FROM admin_tokens WHERE id = ?';
const ALL = 'SELECT * FROM admin_tokens ORDER BY created_at, id';
const TOUCH = 'UPDATE admin_tokens SET last_used_at = ? WHERE id = ?';
const REVOKE = 'UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL';

export function createAdminTokenRepository(sql: Sql) {
  return {
    /** Creates a token; the returned `token` is the only copy of the secret. */
    async create(name: string, createdBy: string | null, now: number): Promise<{ token: string; record: AdminToken }> {
      const id = `adm_${randomBytes(9).toString('base64url')}`;
      const token = ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      await sql.run(INSERT, { id, name, hash: sha256(token), by: createdBy, now });
      return { token, record: toToken((await sql.get<Row>(BY_ID, [id])) as Row) };
    },
    /** The live token matching `token`, with its last use recorded; undefined otherwise. */
    async verify(token: string, now: number): Promise<AdminToken | undefined> {
      if (!TOKEN.test(token)) return undefined;
      const hash = sha256(token);
      const row = await sql.get<Row>(BY_HASH, [hash]);
      // The lookup is by hash of a 256-bit secret; the comparison is constant time all the same.
      if (!row || !constantTimeEqual(hash, row.token_hash)) return undefined;
      await sql.run(TOUCH, [now, row.id]);
      return { ...toToken(row), lastUsedAt: now };
    },
    async find(id: string): Promise<AdminToken | undefined> {
      const row = await sql.get<Row>(BY_ID, [id]);
      return row && toToken(row);
    },
    async list(): Promise<AdminToken[]> {
      return (await sql.all<Row>(ALL)).map(toToken);
    },
    /** False when there is no such live token. */
    async revoke(id: string, now: number): Promise<boolean> {
      return (await sql.run(REVOKE, [now, id])).changes > 0;
    },
  };
}
