// What the alert rules cost a token request (src/audit/alerts.ts): they read the audit trail, which
// grows with every token, so a rule whose alert is already raised for the period must not read it
// again, and a pattern raised already is answered by a read, not by another INSERT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, PASSWORD, RESOURCE, RESOURCE_NAME, refresh } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { traced } from '../support/sql_trace.js';

describe('alert rules on a busy agent', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_ALERT_TOKEN_RATE_MIN: '3',
      MCP_OAUTH_ALERT_TOKEN_RATE_FACTOR: '1',
    });
    await server.addUser('alice', PASSWORD);
    await server.addResource(RESOURCE, RESOURCE_NAME);
  });
  afterAll(() => server.close());

  it("once the hour's token-rate alert is raised, a token no longer counts the agent's tokens", async () => {
    let c = await connect(server, 'alice');
    for (let i = 0; i < 3; i++) {
      const res = await refresh(server, c);
      c = { ...c, refresh: ((await res.json()) as { refresh_token: string }).refresh_token };
    }
    const raised = await server.app.stores.alerts.list({ limit: 100 });
    expect(raised.filter((a) => a.kind === 'agent.token_rate' && a.clientId === c.client.client_id)).toHaveLength(1);

    const { statements } = await traced(server.sql, async () => {
      expect((await refresh(server, c)).status).toBe(200);
    });
    expect(statements.filter((s) => /FROM audit_events WHERE client_id/.test(s.sql))).toEqual([]);
    // Both alerts of this agent (first write, token rate) are known: no INSERT into alerts is tried.
    expect(statements.filter((s) => s.sql.startsWith('INSERT INTO alerts'))).toEqual([]);
    expect(await server.app.stores.alerts.countOpen()).toBe(2);
  });
});
