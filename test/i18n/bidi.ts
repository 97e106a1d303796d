// An agent name that spoofs our "verified" badge with a right-to-left override, and a way to store
// it as a name registered before registration refused such characters.
import type { TestServer } from '../support/app.js';

export const SPOOF = 'Claude Desktop \u202e moc.cihportna :deifirev';

/** Renames a registered agent in the database, bypassing registration's checks. */
export function renameStoredClient(server: TestServer, clientId: string, name: string): void {
  server.db
    .prepare("UPDATE oidc_models SET payload = json_set(payload, '$.client_name', ?) WHERE model = 'Client' AND id = ?")
    .run(name, clientId);
}
