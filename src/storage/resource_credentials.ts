// Credentials resource servers use to call the authorization server (introspection, and the
// revocation feed). Only a SHA-256 of the secret is stored: the secret is 256 random bits, so a
// fast hash is enough, and it is shown once when created.
import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../lib/constant_time.js';
import { epochSeconds } from '../lib/duration.js';
import type { Sql } from './engine.js';

export interface ResourceCredential {
  id: string;
  resourceUri: string;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest();

export type ResourceCredentialRepository = ReturnType<typeof createResourceCredentialRepository>;

const INSERT = 'INSERT INTO resource_credentials (id, resource_id, secret_hash, created_at) VALUES (?, ?, ?, ?)';
const BY_ID =
  'SELECT c.id, c.secret_hash, r.uri FROM resource_credentials c JOIN resources r ON r.id = c.resource_id WHERE c.id = ?';
const TOUCH = 'UPDATE resource_credentials SET last_used_at = ? WHERE id = ?';
const REMOVE_FOR = 'DELETE FROM resource_credentials WHERE resource_id = ?';

export function createResourceCredentialRepository(sql: Sql) {
  return {
    /** Creates a credential and returns the secret: the only time it exists outside the caller. */
    async create(resourceId: number, opts: { replace: boolean }): Promise<{ id: string; secret: string }> {
      const id = `rs_${randomBytes(12).toString('base64url')}`;
      const secret = randomBytes(32).toString('base64url');
      await sql.transaction(async () => {
        if (opts.replace) await sql.run(REMOVE_FOR, [resourceId]);
        await sql.run(INSERT, [id, resourceId, hash(secret).toString('hex'), epochSeconds()]);
      });
      return { id, secret };
    },
    /** The credential if `secret` matches, compared in constant time. */
    async verify(id: string, secret: string): Promise<ResourceCredential | undefined> {
      const row = await sql.get<{ id: string; secret_hash: string; uri: string }>(BY_ID, [id]);
      // An unknown id still costs one comparison, so timing does not tell which ids exist.
      const ok = constantTimeEqual(hash(secret), row ? Buffer.from(row.secret_hash, 'hex') : Buffer.alloc(32));
      if (!row || !ok) return undefined;
      await sql.run(TOUCH, [epochSeconds(), id]);
      return { id: row.id, resourceUri: row.uri };
    },
  };
}
