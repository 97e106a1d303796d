// Classification labels of MCP servers (migrations/0073_resource_labels.sql).
import type { Label } from '../lib/labels.js';
import type { Sql } from './engine.js';
import { settingsCache } from './settings_cache.js';

export type ResourceLabelRepository = ReturnType<typeof createResourceLabelRepository>;

const ALL =
  'SELECT r.uri AS uri, l.classification AS classification FROM resource_labels l JOIN resources r ON r.id = l.resource_id';
// The cast: PostgreSQL types a parameter in a SELECT list as text, which an integer column refuses.
const SET = `INSERT INTO resource_labels (resource_id, classification, updated_at, updated_by)
  SELECT id, @label, CAST(@now AS BIGINT), @by FROM resources WHERE uri = @uri
  ON CONFLICT (resource_id) DO UPDATE SET classification = excluded.classification,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by`;
const CLEAR = 'DELETE FROM resource_labels WHERE resource_id = (SELECT id FROM resources WHERE uri = ?)';

export function createResourceLabelRepository(sql: Sql) {
  const settings = settingsCache(sql);
  return {
    async labelOf(uri: string): Promise<Label | undefined> {
      // Every label at once (one per MCP server at most), kept while no setting changes (./settings_cache.ts).
      const all = await settings.get('resource_labels', async () => {
        const rows = await sql.all<{ uri: string; classification: Label }>(ALL);
        return new Map(rows.map((r) => [r.uri, r.classification]));
      });
      return all.get(uri);
    },
    /** Sets (or, with null, removes) the label; false when no such MCP server. */
    async set(uri: string, label: Label | null, by: string, now: number): Promise<boolean> {
      if (label === null) {
        await sql.run(CLEAR, [uri]);
        return true;
      }
      return (await sql.run(SET, { uri, label, by, now })).changes > 0;
    },
  };
}
