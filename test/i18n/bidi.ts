// An agent name that spoofs our "verified" badge with a right-to-left override, and a way to store
// it as a name registered before registration refused such characters.
import type { TestServer } from '../support/app.js';

export const SPOOF = 'Claude Desktop \u202e moc.cihportna :deifirev';

/** Renames a registered agent in the database, bypassing registration's checks. */
export async function renameStoredClient(server: TestServer, clientId: string, name: string): Promise<void> {
  const row = await server.sql.get<{ payload: string }>(
    "SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?",
    [clientId],
  );
  if (!row) throw new Error(`no client ${clientId}`);
  const payload = { ...(JSON.parse(row.payload) as Record<string, unknown>), client_name: name };
  await server.sql.run("UPDATE oidc_models SET payload = ? WHERE model = 'Client' AND id = ?", [
    JSON.stringify(payload),
    clientId,
  ]);
}
