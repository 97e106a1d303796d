// `mcp-oauth groups` and `mcp-oauth resources label --tool`: a group with a policy narrows a member's
// live grant (the member's access tokens are cut in the feed), show and list tell how each member
// is in the group, a tool label is set and removed; bad input is a one-line error that changes nothing.
import { describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import type { Sql } from '../../src/storage/engine.js';
import { createGrantRecordRepository } from '../../src/storage/grant_records.js';
import { createGroupRepository } from '../../src/storage/groups.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { createRevocationService } from '../../src/storage/revocations.js';
import { createToolLabelRepository } from '../../src/storage/tool_labels.js';
import { createUserRepository } from '../../src/storage/users.js';
import { DEFAULT_SCOPES } from '../support/app.js';
import { cliFor } from '../support/cli.js';

const ORDERS = 'https://mcp.example.com/mcp';

async function seed(sql: Sql): Promise<void> {
  await createResourceRepository(sql).create(ORDERS, 'Orders', DEFAULT_SCOPES);
  const users = createUserRepository(sql);
  const alice = (await users.create('alice', 'not-a-real-hash', false)).id;
  await users.create('bob', 'not-a-real-hash', false);
  await createGrantRecordRepository(sql).saved(
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
}

const feed = async (sql: Sql) =>
  await createRevocationService(sql, { accessTokenTtl: 300 }).feedAfter(0, epochSeconds());

describe('mcp-oauth groups', () => {
  it('creates a group, adds members, sets its policy (cutting the narrowed member) and removes it', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    expect((await cli.run(['groups', 'create', 'contractors', '--description', 'External'])).code).toBe(0);
    const added = await cli.run(['groups', 'add', 'contractors', 'alice']);
    expect(added.code, added.err).toBe(0);
    expect((await cli.run(['groups', 'add', 'contractors', 'bob'])).code).toBe(0);

    const set = await cli.run(['groups', 'set-policy', 'contractors', '--read-only', '--json']);
    expect(set.code, set.err).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({
      policy: { group: 'contractors', read_only: true },
      grants_narrowed: 1,
    });
    const alice = await cli.withSql(async (sql) => (await createUserRepository(sql).findByUsername('alice'))?.id);
    expect(await cli.withSql(feed)).toEqual([expect.objectContaining({ kind: 'user', subject: alice })]);

    const shown = await cli.run(['groups', 'show', 'contractors', '--json']);
    expect(JSON.parse(shown.out)).toMatchObject({
      name: 'contractors',
      members: [
        { username: 'alice', source: 'admin' },
        { username: 'bob', source: 'admin' },
      ],
      policy: { read_only: true },
    });
    const listed = await cli.run(['groups', 'list']);
    expect(listed.out).toMatch(/contractors\s+2\s+yes/);

    expect((await cli.run(['groups', 'remove-member', 'contractors', 'bob'])).code).toBe(0);
    expect((await cli.run(['groups', 'remove-policy', 'contractors'])).code).toBe(0);
    expect((await cli.run(['groups', 'remove', 'contractors'])).code).toBe(0);
    expect(await cli.withSql(async (sql) => createGroupRepository(sql).list())).toEqual([]);
  });

  it('refuses bad input with a one-line error and changes nothing', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    for (const args of [
      ['groups', 'create', ' padded'],
      ['groups', 'add', 'nobody-here', 'alice'],
      ['groups', 'set-policy', 'nobody-here', '--read-only'],
      ['groups', 'show', 'nobody-here'],
    ]) {
      const res = await cli.run(args);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.err.trim().split('\n')).toHaveLength(1);
    }
    expect((await cli.run(['groups', 'create', 'ops'])).code).toBe(0);
    const unknownUser = await cli.run(['groups', 'add', 'ops', 'nobody']);
    expect(unknownUser.code).not.toBe(0);
    const badScope = await cli.run(['groups', 'set-policy', 'ops', '--scope', 'nobody:offers']);
    expect(badScope.code).not.toBe(0);
    expect(await cli.withSql(async (sql) => createGroupRepository(sql).listPolicies())).toEqual([]);
    expect(await cli.withSql(feed)).toEqual([]);
  });
});

describe('mcp-oauth resources label --tool', () => {
  it('labels a tool of a server and removes the label; refuses a bad tool name', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    const env = { MCP_OAUTH_LABELS_DENY_TOOLS: 'personal_data' };
    const set = await cli.run(['resources', 'label', ORDERS, 'personal_data', '--tool', 'export_customers'], { env });
    expect(set.code, set.err).toBe(0);
    expect(set.out).toContain('export_customers');
    // agent-1 holds a live grant to the server: its tokens are cut to carry the new rule.
    expect(set.out).toContain('1 agent narrowed');
    const labels = async (sql: Sql) => (await createToolLabelRepository(sql).list()).map((l) => [l.tool, l.label]);
    expect(await cli.withSql(labels)).toEqual([['export_customers', 'personal_data']]);
    const bad = await cli.run(['resources', 'label', ORDERS, 'public', '--tool', 'has space']);
    expect(bad.code).not.toBe(0);
    expect((await cli.run(['resources', 'label', ORDERS, 'none', '--tool', 'export_customers'])).code).toBe(0);
    expect(await cli.withSql(labels)).toEqual([]);
  });
});
