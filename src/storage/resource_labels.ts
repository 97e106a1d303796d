// Classification labels of MCP servers (migrations/0073_resource_labels.sql).
import type { Label } from '../lib/labels.js';
import type { Db } from './db.js';

export type ResourceLabelRepository = ReturnType<typeof createResourceLabelRepository>;

export function createResourceLabelRepository(db: Db) {
  const byUri = db
    .prepare('SELECT l.classification FROM resource_labels l JOIN resources r ON r.id = l.resource_id WHERE r.uri = ?')
    .pluck();
  const set = db.prepare(`INSERT INTO resource_labels (resource_id, classification, updated_at, updated_by)
    SELECT id, @label, @now, @by FROM resources WHERE uri = @uri
    ON CONFLICT (resource_id) DO UPDATE SET classification = excluded.classification,
      updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
  const clear = db.prepare('DELETE FROM resource_labels WHERE resource_id = (SELECT id FROM resources WHERE uri = ?)');
  return {
    labelOf(uri: string): Label | undefined {
      return (byUri.get(uri) as Label | undefined) ?? undefined;
    },
    /** Sets (or, with null, removes) the label; false when no such MCP server. */
    set(uri: string, label: Label | null, by: string, now: number): boolean {
      if (label === null) {
        clear.run(uri);
        return true;
      }
      return set.run({ uri, label, by, now }).changes > 0;
    },
  };
}
