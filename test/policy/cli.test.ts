// `mcp-oauth policy`: set narrows a live grant (its agent's access tokens are cut in the feed), list
// shows it, remove takes it away; bad input is a one-line error that changes nothing.
import { describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import type { Sql } from '../../src/storage/engine.js';
import { createGrantRecordRepository } from '../../src/storage/grant_records.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { createRevocationService } from '../../src/storage/revocations.js';
import { createUserRepository } from '../../src/storage/users.js';
import { DEFAULT_SCOPES } from '../support/app.js';
import { cliFor } from '../support/cli.js';

const ORDERS = 'https://mcp.example.com/mcp';

async function seed(sql: Sql): Promise<void> {
  await createResourceRepository(sql).create(ORDERS, 'Orders', DEFAULT_SCOPES);
  const alice = (await createUserRepository(sql).create('alice', 'not-a-real-hash', false)).id;
  const records = createGrantRecordRepository(sql);
  await records.saved(
    {
      id: 'g-1',
      accountId: alice,
      clientId: 'agent-1',
      resource: ORDERS,
      scopes: ['mcp:read', 'mcp:write'],
      obtainedVia: 'consent',
    },
    epochSeconds(),
  );
  await records.saved(
    {
      id: 'g-2',
      accountId: alice,
      clientId: 'agent-2',
      resource: ORDERS,
      scopes: ['mcp:read'],
      obtainedVia: 'consent',
    },
    epochSeconds(),
  );
}

const feed = (sql: Sql) => createRevocationService(sql, { accessTokenTtl: 300 }).feedAfter(0, epochSeconds());

describe('mcp-oauth policy', () => {
  it('sets, lists and removes a policy; only agents whose live grants it narrows are cut', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    for (const client of ['agent-1', 'agent-2']) {
      const set = await cli.run(['policy', 'set', '--client', client, '--read-only', '--json']);
      expect(set.code, set.err).toBe(0);
      const out = JSON.parse(set.out) as { agents_narrowed: string[] };
      // agent-2 holds read only: nothing of it is narrowed, nothing cut.
      expect(out.agents_narrowed).toEqual(client === 'agent-1' ? ['agent-1'] : []);
    }
    expect(await cli.withSql(feed)).toEqual([expect.objectContaining({ kind: 'client', subject: 'agent-1' })]);

    const listed = await cli.run(['policy', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^ID\s+AGENT\s+RESOURCES\s+SCOPES\s+READ_ONLY\s+UPDATED$/m);
    expect(listed.out).toMatch(/^1\s+agent-1\s+\*\s+\*\s+yes\s+\S+$/m);

    expect((await cli.run(['policy', 'remove', '1'])).code).toBe(0);
    const after = JSON.parse((await cli.run(['policy', 'list', '--json'])).out) as { client_id: string }[];
    expect(after.map((p) => p.client_id)).toEqual(['agent-2']);
    expect(
      await cli.withSql((sql) => sql.get("SELECT count(*) AS n FROM audit_events WHERE event LIKE 'policy.%'")),
    ).toEqual({ n: 3 });
  });

  it.each([
    [['policy', 'set', '--read-only'], /exactly one of client_id or domain/],
    [['policy', 'set', '--domain', 'bad domain'], /not a host name/],
    [
      ['policy', 'set', '--client', 'agent-1', '--resource', 'https://unknown.example/mcp'],
      /not a registered MCP server/,
    ],
    [['policy', 'set', '--client', 'agent-1', '--scope', 'nobody:offers'], /no MCP server offers the scope/],
    [['policy', 'remove', '7'], /no agent policy 7/],
    [['policy', 'remove', 'x'], /not a policy id/],
  ])('refuses %j with one line and changes nothing', async (argv, message) => {
    const cli = cliFor();
    await cli.withSql(seed);
    const result = await cli.run(argv);
    expect(result.code).not.toBe(0);
    expect(result.err).toMatch(message);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(await cli.withSql((sql) => sql.get('SELECT count(*) AS n FROM agent_policies'))).toEqual({
      n: 0,
    });
    expect(await cli.withSql(feed)).toEqual([]);
  });
});
