// Classification labels of MCP servers (migrations/0073_resource_labels.sql).
import type { Label } from '../lib/labels.js';
import type { Sql } from './engine.js';

export type ResourceLabelRepository = ReturnType<typeof createResourceLabelRepository>;

const BY_URI =
  'SELECT l.classification AS classification FROM resource_labels l JOIN resources r ON r.id = l.resource_id WHERE r.uri = ?';
// The cast: PostgreSQL types a parameter in a SELECT list as text, which an integer column refuses.
const SET = `INSERT INTO resource_labels (resource_id, classification, updated_at, updated_by)
  SELECT id, @label, CAST(@now AS BIGINT), @by FROM resources WHERE uri = @uri
  ON CONFLICT (resource_id) DO UPDATE SET classification = excluded.classification,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by`;
const CLEAR = 'DELETE FROM resource_labels WHERE resource_id = (SELECT id FROM resources WHERE uri = ?)';

export function createResourceLabelRepository(sql: Sql) {
  return {
    async labelOf(uri: string): Promise<Label | undefined> {
      return (await sql.get<{ classification: Label }>(BY_URI, [uri]))?.classification ?? undefined;
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
