// One write transaction per token request (src/app/token_transaction.ts): a refresh or a code
// exchange writes its tokens, the grant's and the agent's "last used", the audit row and the
// alerts in one transaction, reads the presented token once, keeps nothing when it fails half-way,
// and two presentations of one refresh token run one after the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_NAME, auditRows, connect, PASSWORD, RESOURCE, RESOURCE_NAME, refresh } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';
import { type Statement, traced } from '../support/sql_trace.js';

/** Reads of one oidc-provider record (by model and id) among the statements. */
const readsOf = (statements: Statement[], model: string, id: string) =>
  statements.filter(
    (s) =>
      !s.write &&
      /FROM oidc_models\b/.test(s.sql) &&
      Array.isArray(s.params) &&
      s.params.includes(model) &&
      s.params.includes(id),
  );

describe('a token request is one transaction', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, RESOURCE_NAME);
  });
  afterAll(() => server.close());

  it('a refresh: every write in one transaction, and the presented token read once', async () => {
    const c = await connect(server, 'alice');
    let status = 0;
    const { transactions, statements } = await traced(server.sql, async () => {
      // With a resource indicator, which the server compares with the grant before the provider runs.
      const res = await tokenRequest(server.url, {
        grant_type: 'refresh_token',
        refresh_token: c.refresh,
        client_id: c.client.client_id,
        resource: RESOURCE,
      });
      status = res.status;
    });
    expect(status).toBe(200);
    expect(statements.filter((s) => s.write && !s.inTransaction)).toEqual([]);
    expect(transactions).toBe(1);
    // The consume, the new token, the audit row: all there, all inside.
    const writes = statements.filter((s) => s.write).map((s) => s.sql);
    expect(writes.some((s) => s.startsWith('UPDATE oidc_models SET consumed_at'))).toBe(true);
    expect(writes.some((s) => s.startsWith('INSERT INTO oidc_models'))).toBe(true);
    expect(writes.some((s) => s.startsWith('INSERT INTO audit_events'))).toBe(true);
    expect(readsOf(statements, 'RefreshToken', c.refresh)).toHaveLength(1);
  });

  it('a code exchange: every write in one transaction', async () => {
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: AGENT_NAME });
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: RESOURCE });
    let status = 0;
    const { transactions, statements } = await traced(server.sql, async () => {
      status = (await redeem(server.url, client, got)).status;
    });
    expect(status).toBe(200);
    expect(statements.filter((s) => s.write && !s.inTransaction)).toEqual([]);
    expect(transactions).toBe(1);
    expect(statements.filter((s) => s.write).some((s) => s.sql.startsWith('INSERT INTO audit_events'))).toBe(true);
  });

  it('a refused refresh changes nothing: the genuine token works afterwards', async () => {
    const c = await connect(server, 'alice');
    const forged = await refresh(server, { ...c, refresh: `${c.refresh.slice(0, -2)}xx` });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { error: string }).error).toBe('invalid_grant');
    // The genuine token still works: the refused request changed nothing.
    expect((await refresh(server, c)).status).toBe(200);
    expect((await auditRows(server, 'token.refreshed')).some((r) => r.grant_id === c.grantId)).toBe(true);
  });
});

describe('a refresh that fails half-way keeps nothing', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, RESOURCE_NAME);
  });
  afterAll(() => server.close());

  // A trigger is how a write is made to fail inside the server; its syntax is SQLite's.
  it.skipIf(process.env.MCP_OAUTH_TEST_ENGINE === 'postgres')(
    'the presented refresh token is not consumed when storing its successor fails, so a retry works (SQLite)',
    async () => {
      const c = await connect(server, 'alice');
      await server.sql.exec(`CREATE TRIGGER fail_refresh BEFORE INSERT ON oidc_models
        WHEN NEW.model = 'RefreshToken' BEGIN SELECT RAISE(ABORT, 'refresh tokens cannot be stored'); END`);
      const failed = await refresh(server, c);
      await server.sql.exec('DROP TRIGGER fail_refresh');
      expect(failed.status).toBe(500);
      const consumed = await server.sql.get<{ consumed_at: number | null }>(
        "SELECT consumed_at FROM oidc_models WHERE model = 'RefreshToken' AND id = ?",
        [c.refresh],
      );
      expect(consumed?.consumed_at ?? null).toBeNull();
      // Without the rollback the retry would be a reuse of a consumed token: the grant revoked.
      const retry = await refresh(server, c);
      expect(retry.status).toBe(200);
      expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt ?? null).toBeNull();
    },
  );

  it('two presentations of one refresh token at once (no grace window): one rotation, the other is reuse', async () => {
    const c = await connect(server, 'alice');
    const results = await Promise.all([refresh(server, c), refresh(server, c)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    // Reuse detection saw the first rotation: the grant is revoked, as oidc-provider does without a window.
    expect((await server.app.stores.grantRecords.find(c.grantId))?.revokedAt ?? null).not.toBeNull();
  });
});
