// Service clients (agents without a user): the MCP servers and scopes an admin allowed each one.
// The OAuth client is oidc-provider's Client row (./clients.ts); a client without a row here can
// never use the client credentials grant (src/provider/resources.ts).
import type { Sql } from './engine.js';

export interface ServiceClient {
  clientId: string;
  resources: string[];
  scopes: string[];
  /** token_endpoint_auth_method: private_key_jwt, or client_secret_basic when the admin allowed a secret. */
  authMethod: string;
  createdAt: number;
  createdBy: string;
}

interface Row {
  client_id: string;
  resources: string;
  scopes: string;
  auth_method: string;
  created_at: number;
  created_by: string;
}

const split = (v: string) => (v ? v.split(' ') : []);

const toServiceClient = (r: Row): ServiceClient => ({
  clientId: r.client_id,
  resources: split(r.resources),
  scopes: split(r.scopes),
  authMethod: r.auth_method,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

export type ServiceClientRepository = ReturnType<typeof createServiceClientRepository>;

const INSERT = `INSERT INTO service_clients (client_id, resources, scopes, auth_method, created_at, created_by)
  VALUES (@client_id, @resources, @scopes, @auth_method, @created_at, @created_by)`;
const BY_ID = 'SELECT * FROM service_clients WHERE client_id = ?';
const ALL = 'SELECT * FROM service_clients ORDER BY created_at, client_id';
const REMOVE = 'DELETE FROM service_clients WHERE client_id = ?';

export function createServiceClientRepository(sql: Sql) {
  return {
    async create(c: ServiceClient): Promise<void> {
      await sql.run(INSERT, {
        client_id: c.clientId,
        resources: c.resources.join(' '),
        scopes: c.scopes.join(' '),
        auth_method: c.authMethod,
        created_at: c.createdAt,
        created_by: c.createdBy,
      });
    },
    async find(clientId: string): Promise<ServiceClient | undefined> {
      const row = await sql.get<Row>(BY_ID, [clientId]);
      return row && toServiceClient(row);
    },
    async list(): Promise<ServiceClient[]> {
      return (await sql.all<Row>(ALL)).map(toServiceClient);
    },
    async delete(clientId: string): Promise<boolean> {
      return (await sql.run(REMOVE, [clientId])).changes > 0;
    },
  };
}
