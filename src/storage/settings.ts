import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/** Returns the named server secret, creating a random one on first use. */
export function getOrCreateSecret(db: Db, name: string, bytes = 32): string {
  return db.transaction(() => {
    const row = db.prepare('SELECT value FROM settings WHERE name = ?').get(name) as { value: string } | undefined;
    if (row) return row.value;
    const value = randomBytes(bytes).toString('base64url');
    db.prepare('INSERT INTO settings (name, value) VALUES (?, ?)').run(name, value);
    return value;
  })();
}
