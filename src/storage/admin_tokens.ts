// Admin API tokens: 256 random bits shown once at creation; only the SHA-256 (hex) is stored. A
// token may be tied to the admin who created it, and then dies with that admin's rights.
import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../lib/constant_time.js';
import type { Db } from './db.js';

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

export function createAdminTokenRepository(db: Db) {
  const insert = db.prepare(
    'INSERT INTO admin_tokens (id, name, token_hash, created_by, created_at) VALUES (@id, @name, @hash, @by, @now)',
  );
  const byHash = db.prepare('SELECT * FROM admin_tokens WHERE token_hash = ? AND revoked_at IS NULL');
  const byId = db.prepare('SELECT * FROM admin_tokens WHERE id = ?');
  const all = db.prepare('SELECT * FROM admin_tokens ORDER BY created_at, id');
  const touch = db.prepare('UPDATE admin_tokens SET last_used_at = ? WHERE id = ?');
  const revoke = db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');

  return {
    /** Creates a token; the returned `token` is the only copy of the secret. */
    create(name: string, createdBy: string | null, now: number): { token: string; record: AdminToken } {
      const id = `adm_${randomBytes(9).toString('base64url')}`;
      const token = ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      insert.run({ id, name, hash: sha256(token), by: createdBy, now });
      return { token, record: toToken(byId.get(id) as Row) };
    },
    /** The live token matching `token`, with its last use recorded; undefined otherwise. */
    verify(token: string, now: number): AdminToken | undefined {
      if (!TOKEN.test(token)) return undefined;
      const hash = sha256(token);
      const row = byHash.get(hash) as Row | undefined;
      // The lookup is by hash of a 256-bit secret; the comparison is constant time all the same.
      if (!row || !constantTimeEqual(hash, row.token_hash)) return undefined;
      touch.run(now, row.id);
      return { ...toToken(row), lastUsedAt: now };
    },
    find(id: string): AdminToken | undefined {
      const row = byId.get(id) as Row | undefined;
      return row && toToken(row);
    },
    list(): AdminToken[] {
      return (all.all() as Row[]).map(toToken);
    },
    /** False when there is no such live token. */
    revoke(id: string, now: number): boolean {
      return revoke.run(now, id).changes > 0;
    },
  };
}
