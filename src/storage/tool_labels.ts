// Classification labels on single tools of an MCP server (migrations/0091_tool_labels.sql).
import type { Label } from '../lib/labels.js';
import type { Sql } from './engine.js';
import { deepFreeze, settingsCache } from './settings_cache.js';

export interface ToolLabel {
  resource: string;
  tool: string;
  label: Label;
  updatedAt: number;
  updatedBy: string;
}

interface Row {
  uri: string;
  tool: string;
  classification: Label;
  updated_at: number;
  updated_by: string;
}

const toLabel = (r: Row): ToolLabel => ({
  resource: r.uri,
  tool: r.tool,
  label: r.classification,
  updatedAt: Number(r.updated_at),
  updatedBy: r.updated_by,
});

const SELECT = `SELECT r.uri, l.tool, l.classification, l.updated_at, l.updated_by
  FROM tool_labels l JOIN resources r ON r.id = l.resource_id`;

export type ToolLabelRepository = ReturnType<typeof createToolLabelRepository>;

export function createToolLabelRepository(sql: Sql) {
  return {
    async list(): Promise<ToolLabel[]> {
      return (await sql.all<Row>(`${SELECT} ORDER BY r.uri, l.tool`)).map(toLabel);
    },
    /** The labelled tools of one MCP server. */
    async forResource(uri: string): Promise<readonly ToolLabel[]> {
      // Read at every token when tool rules are set: all labels at once, kept while no setting
      // changes (./settings_cache.ts).
      const all = await settingsCache(sql).get('tool_labels', async () => {
        const byResource = new Map<string, ToolLabel[]>();
        for (const row of await sql.all<Row>(`${SELECT} ORDER BY r.uri, l.tool`)) {
          const labels = byResource.get(row.uri) ?? [];
          labels.push(toLabel(row));
          byResource.set(row.uri, labels);
        }
        for (const labels of byResource.values()) deepFreeze(labels);
        return byResource;
      });
      return all.get(uri) ?? [];
    },
    async labelOf(uri: string, tool: string): Promise<Label | undefined> {
      const row = await sql.get<Row>(`${SELECT} WHERE r.uri = ? AND l.tool = ?`, [uri, tool]);
      return row?.classification;
    },
    async count(uri: string): Promise<number> {
      const row = await sql.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM tool_labels l JOIN resources r ON r.id = l.resource_id WHERE r.uri = ?',
        [uri],
      );
      return Number(row?.n ?? 0);
    },
    /** The agents with a live grant to the server: whose access tokens carry its tool labels. */
    async liveClients(uri: string): Promise<string[]> {
      const rows = await sql.all<{ client_id: string }>(
        'SELECT DISTINCT client_id FROM grant_records WHERE revoked_at IS NULL AND resource = ?',
        [uri],
      );
      return rows.map((r) => r.client_id);
    },
    /** Sets (or, with null, removes) the label; false when no such MCP server or nothing to remove. */
    async set(uri: string, tool: string, label: Label | null, by: string, now: number): Promise<boolean> {
      if (label === null) {
        const removed = await sql.run(
          'DELETE FROM tool_labels WHERE resource_id = (SELECT id FROM resources WHERE uri = ?) AND tool = ?',
          [uri, tool],
        );
        return removed.changes > 0;
      }
      const result = await sql.run(
        `INSERT INTO tool_labels (resource_id, tool, classification, updated_at, updated_by)
         SELECT id, @tool, @label, @now, @by FROM resources WHERE uri = @uri
         ON CONFLICT (resource_id, tool) DO UPDATE SET classification = excluded.classification,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        { uri, tool, label, now, by },
      );
      return result.changes > 0;
    },
  };
}
