// Prepares a data directory the way an operator would before the first `serve`: the schema, a user
// (an admin, so the admin API can be driven by a session as well), an MCP server, a resource-server
// credential for the revocation feed, and an admin API token.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/index.js';
import { epochSeconds } from '../../../src/lib/duration.js';
import { hashPassword } from '../../../src/lib/passwords.js';
import { createAdminTokenRepository } from '../../../src/storage/admin_tokens.js';
import { createResourceCredentialRepository } from '../../../src/storage/resource_credentials.js';
import { createResourceRepository } from '../../../src/storage/resources.js';
import { createUserRepository } from '../../../src/storage/users.js';
import { DEFAULT_SCOPES } from '../../support/app.js';
import { openTestStorage } from '../../support/storage.js';

export const RESOURCE = 'https://mcp.example.com/mcp';
export const USER = { username: 'alice', password: 'correct horse battery' } as const;

export interface Seeded {
  dataDir: string;
  databaseFile: string;
  feed: { id: string; secret: string };
  adminToken: string;
}

export async function seedDataDir(): Promise<Seeded> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-hardening-'));
  const { databaseFile } = loadConfig({ MCP_OAUTH_DATA_DIR: dataDir });
  const { sql } = await openTestStorage(dataDir);
  try {
    const user = await createUserRepository(sql).create(USER.username, await hashPassword(USER.password), true);
    const resource = await createResourceRepository(sql).create(RESOURCE, 'Orders DB', DEFAULT_SCOPES);
    const feed = await createResourceCredentialRepository(sql).create(resource.id, { replace: false });
    const adminToken = (await createAdminTokenRepository(sql).create('hardening', user.id, epochSeconds())).token;
    return { dataDir, databaseFile, feed, adminToken };
  } finally {
    // Only the connection: on PostgreSQL the opening that created the database would drop it, and
    // the server spawned on this directory needs it (the run's cluster is removed at the end).
    await sql.close();
  }
}

export const basic = (c: { id: string; secret: string }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;
