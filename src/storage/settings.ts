import { randomBytes } from 'node:crypto';
import type { Sql } from './engine.js';

/** Returns the named server secret, creating a random one on first use. */
export async function getOrCreateSecret(sql: Sql, name: string, bytes = 32): Promise<string> {
  // Insert-if-absent then read: two processes (or nodes) starting at once agree on the one value
  // that landed first.
  return sql.transaction(async () => {
    const row = await sql.get<{ value: string }>('SELECT value FROM settings WHERE name = ?', [name]);
    if (row) return row.value;
    const value = randomBytes(bytes).toString('base64url');
    await sql.run('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [name, value]);
    const stored = await sql.get<{ value: string }>('SELECT value FROM settings WHERE name = ?', [name]);
    return stored?.value ?? value;
  });
}
