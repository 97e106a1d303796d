// The metadata document each grant's user consented to (migrations/0072_grant_documents.sql).
import type { DocumentPin } from '../lib/agent_document.js';
import type { Sql } from './engine.js';

interface Row {
  grant_id: string;
  client_id: string;
  digest: string;
  client_name: string | null;
  redirect_hosts: string;
  recorded_at: number;
}

export interface GrantDocument extends DocumentPin {
  grantId: string;
  clientId: string;
  recordedAt: number;
}

export type GrantDocumentRepository = ReturnType<typeof createGrantDocumentRepository>;

const UPSERT = `INSERT INTO grant_documents (grant_id, client_id, digest, client_name, redirect_hosts, recorded_at)
  VALUES (@grant, @client, @digest, @name, @hosts, @now)
  ON CONFLICT (grant_id) DO UPDATE SET digest = excluded.digest, client_name = excluded.client_name,
    redirect_hosts = excluded.redirect_hosts, recorded_at = excluded.recorded_at`;
const BY_GRANT = 'SELECT * FROM grant_documents WHERE grant_id = ?';

export function createGrantDocumentRepository(sql: Sql) {
  return {
    /** Records (or, after a new consent, replaces) the document the user consented to. */
    async pin(grantId: string, clientId: string, pin: DocumentPin, now: number): Promise<void> {
      await sql.run(UPSERT, {
        grant: grantId,
        client: clientId,
        digest: pin.digest,
        name: pin.name,
        hosts: JSON.stringify(pin.redirectHosts),
        now,
      });
    },
    async find(grantId: string): Promise<GrantDocument | undefined> {
      const r = await sql.get<Row>(BY_GRANT, [grantId]);
      return (
        r && {
          grantId: r.grant_id,
          clientId: r.client_id,
          digest: r.digest,
          name: r.client_name,
          redirectHosts: JSON.parse(r.redirect_hosts) as string[],
          recordedAt: r.recorded_at,
        }
      );
    },
  };
}
