import { describe, expect, it } from 'vitest';
import { queryAudit } from '../../src/audit/query.js';
import { epochSeconds } from '../../src/lib/duration.js';
import type { Sql } from '../../src/storage/engine.js';
import { createGrantRecordRepository } from '../../src/storage/grant_records.js';
import { createOidcStore } from '../../src/storage/oidc_adapter.js';
import { createRevocationService } from '../../src/storage/revocations.js';
import { createUserRepository } from '../../src/storage/users.js';
import { type Cli, cliFor } from '../support/cli.js';

const ORDERS = 'https://mcp.example.com/mcp';
const FILES = 'https://files.example.com/mcp';
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

interface Seeded {
  alice: string;
  bob: string;
}

/** alice: g-a1 (agent-1, orders), g-a2 (agent-2, files); bob: g-b1 (agent-1, orders), g-old (revoked). */
async function seed(sql: Sql): Promise<Seeded> {
  const users = createUserRepository(sql);
  const alice = (await users.create('alice', 'not-a-real-hash', false)).id;
  const bob = (await users.create('bob', 'not-a-real-hash', false)).id;
  const store = createOidcStore(sql);
  await store.upsert('Client', 'agent-1', { client_id: 'agent-1', client_name: 'Claude Code' }, undefined);
  await store.upsert('Client', 'agent-2', { client_id: 'agent-2' }, undefined);
  const records = createGrantRecordRepository(sql);
  const grant = async (id: string, accountId: string, clientId: string, resource: string, at: number) => {
    await store.upsert('Grant', id, { jti: id, accountId, clientId }, 3600);
    await store.upsert('RefreshToken', `rt-${id}`, { accountId, clientId, grantId: id }, 3600);
    await records.saved({ id, accountId, clientId, resource, scopes: ['mcp:read'], obtainedVia: 'consent' }, at);
  };
  await grant('g-a1', alice, 'agent-1', ORDERS, T0);
  await grant('g-a2', alice, 'agent-2', FILES, T0 + 60);
  await grant('g-b1', bob, 'agent-1', ORDERS, T0 + 120);
  await grant('g-old', bob, 'agent-2', FILES, T0 - 3600);
  await records.used('g-a1', T0 + 30);
  await createRevocationService(sql, { accessTokenTtl: 300 }).revokeGrant('g-old', 'admin:someone', T0 - 1800);
  return { alice, bob };
}

async function setup(): Promise<{ cli: Cli; ids: Seeded }> {
  const cli = cliFor();
  return { cli, ids: await cli.withSql(seed) };
}

const activeIds = (cli: Cli) =>
  cli.withSql(async (sql) => (await createGrantRecordRepository(sql).list()).map((g) => g.id).sort());
const feed = (cli: Cli) =>
  cli.withSql((sql) => createRevocationService(sql, { accessTokenTtl: 300 }).feedAfter(0, epochSeconds()));
const providerRows = (cli: Cli, grantId: string) =>
  cli.withSql((sql) => sql.all('SELECT model FROM oidc_models WHERE grant_id = ? OR id = ?', [grantId, grantId]));

describe('grants list', () => {
  it('shows active grants with user, agent, resource, scopes, creation and last use', async () => {
    const { cli } = await setup();
    const result = await cli.run(['grants', 'list']);
    expect(result.code).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+USER\s+AGENT\s+RESOURCE\s+SCOPES\s+CREATED\s+LAST_USED\s+REVOKED$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        /^g-b1\s+bob\s+Claude Code \(agent-1\)\s+https:\/\/mcp\.example\.com\/mcp\s+mcp:read\s+2026-01-01T00:02:00Z\s+-\s+-$/,
      ),
      expect.stringMatching(/^g-a2\s+alice\s+agent-2\s+https:\/\/files\.example\.com\/mcp\s+mcp:read\s+\S+\s+-\s+-$/),
      expect.stringMatching(
        /^g-a1\s+alice\s+Claude Code \(agent-1\)\s+\S+\s+mcp:read\s+\S+\s+2026-01-01T00:00:30Z\s+-$/,
      ),
    ]);
  });

  it.each([
    [
      ['--user', 'alice'],
      ['g-a1', 'g-a2'],
    ],
    [
      ['--user', 'ALICE'],
      ['g-a1', 'g-a2'],
    ],
    [
      ['--client', 'agent-1'],
      ['g-a1', 'g-b1'],
    ],
    [['--resource', 'https://FILES.example.com/mcp/'], ['g-a2']],
    [['--user', 'bob', '--client', 'agent-1'], ['g-b1']],
    [['--revoked'], ['g-old']],
    [['--all'], ['g-a1', 'g-a2', 'g-b1', 'g-old']],
    [
      ['--all', '--user', 'bob'],
      ['g-b1', 'g-old'],
    ],
    [['--client', 'agent-2', '--user', 'bob'], []],
  ])('filters with %j', async (args, ids) => {
    const { cli } = await setup();
    const result = await cli.run(['grants', 'list', ...args, '--json']);
    expect(result.code).toBe(0);
    const grants = JSON.parse(result.out) as { id: string }[];
    expect(grants.map((g) => g.id).sort()).toEqual(ids);
  });

  it('prints JSON with names, and who revoked', async () => {
    const { cli, ids } = await setup();
    const grants = JSON.parse((await cli.run(['grants', 'list', '--revoked', '--json'])).out) as unknown[];
    expect(grants).toEqual([
      {
        id: 'g-old',
        user: { id: ids.bob, username: 'bob' },
        agent: { id: 'agent-2', name: null },
        resource: FILES,
        scopes: ['mcp:read'],
        obtainedVia: 'consent',
        createdAt: T0 - 3600,
        lastUsedAt: null,
        revokedAt: T0 - 1800,
        revokedBy: 'admin:someone',
        revokeReason: 'revoked',
      },
    ]);
    const table = await cli.run(['grants', 'list', '--revoked']);
    expect(table.out.trimEnd().split('\n')[1]).toMatch(
      /^g-old\s+bob\s+agent-2\s+\S+\s+mcp:read\s+\S+\s+-\s+2025-12-31T23:30:00Z by admin:someone$/,
    );
  });

  it.each([
    [['--all', '--revoked'], "option '--all' cannot be used with option '--revoked'"],
    [['--user', 'carol'], 'no user named carol'],
    [['--resource', 'not a uri'], '--resource: resource indicator must be an absolute URI'],
    [
      ['--resource', 'https://mcp.exmaple.com/mcp'],
      'no resource https://mcp.exmaple.com/mcp; mcp-oauth resources list shows them',
    ],
    [['--client', 'agent-9'], 'no client "agent-9"; mcp-oauth clients list shows them'],
  ])('refuses %j with one line', async (args, message) => {
    const { cli } = await setup();
    expect(await cli.run(['grants', 'list', ...args])).toEqual({ code: 1, out: '', err: `mcp-oauth: ${message}\n` });
  });

  it('says when there are none', async () => {
    const cli = cliFor();
    expect((await cli.run(['grants', 'list'])).out).toBe('no active grants\n');
    expect((await cli.run(['grants', 'list', '--all'])).out).toBe('no grants\n');
  });

  it('says there are none for a registered MCP server or a known agent without grants', async () => {
    const { cli } = await setup();
    expect((await cli.run(['resources', 'add', 'https://quiet.example.com/mcp', '--name', 'Quiet'])).code).toBe(0);
    expect(await cli.run(['grants', 'list', '--resource', 'https://quiet.example.com/mcp/'])).toEqual({
      code: 0,
      out: 'no active grants\n',
      err: '',
    });
    expect(await cli.run(['grants', 'list', '--client', 'agent-2', '--user', 'bob'])).toEqual({
      code: 0,
      out: 'no active grants\n',
      err: '',
    });
  });
});

describe('grants revoke', () => {
  it('revokes one grant: provider rows gone, record marked by cli, a feed entry, an audit row', async () => {
    const { cli, ids } = await setup();
    expect(await cli.run(['grants', 'revoke', 'g-a1'])).toEqual({ code: 0, out: 'revoked grant g-a1\n', err: '' });
    expect(await providerRows(cli, 'g-a1')).toEqual([]);
    expect(await activeIds(cli)).toEqual(['g-a2', 'g-b1']);
    const record = await cli.withSql((sql) => createGrantRecordRepository(sql).find('g-a1'));
    expect(record).toMatchObject({ revokedBy: 'cli' });
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'grant', subject: 'g-a1' });
    const rows = await cli.withSql((sql) => queryAudit(sql, { event: 'grant.revoked' }));
    expect(rows).toEqual([
      expect.objectContaining({
        result: 'success',
        userId: ids.alice,
        username: 'alice',
        clientId: 'agent-1',
        resource: ORDERS,
        grantId: 'g-a1',
        details: { by: 'cli' },
      }),
    ]);
  });

  it('says so when the grant was already revoked, and refuses an unknown one', async () => {
    const { cli } = await setup();
    expect(await cli.run(['grants', 'revoke', 'g-old'])).toEqual({
      code: 0,
      out: 'grant g-old was already revoked at 2025-12-31T23:30:00Z\n',
      err: '',
    });
    expect(await cli.run(['grants', 'revoke', 'nope'])).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: no grant "nope"\n',
    });
    expect(await cli.withSql((sql) => queryAudit(sql))).toEqual([]);
  });

  it('revokes every grant of a user, with one user feed entry, and leaves others alone', async () => {
    const { cli, ids } = await setup();
    expect(await cli.run(['grants', 'revoke', '--user', 'alice'])).toEqual({
      code: 0,
      out: 'revoked 2 grants of alice\n',
      err: '',
    });
    expect(await activeIds(cli)).toEqual(['g-b1']);
    expect(await providerRows(cli, 'g-a2')).toEqual([]);
    expect(await providerRows(cli, 'g-b1')).toHaveLength(2);
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'user', subject: ids.alice });
    const rows = await cli.withSql((sql) => queryAudit(sql, { event: 'grant.revoked' }));
    expect(rows.map((r) => [r.grantId, r.username]).sort()).toEqual([
      ['g-a1', 'alice'],
      ['g-a2', 'alice'],
    ]);
  });

  it("revokes only a user's grants to one agent", async () => {
    const { cli } = await setup();
    expect(await cli.run(['grants', 'revoke', '--user', 'alice', '--client', 'agent-2'])).toEqual({
      code: 0,
      out: 'revoked 1 grant of alice to client agent-2\n',
      err: '',
    });
    expect(await activeIds(cli)).toEqual(['g-a1', 'g-b1']);
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'grant', subject: 'g-a2' });
  });

  it.each([
    [[], 'give a GRANT_ID, or --user USERNAME [--client CLIENT_ID]'],
    [['g-a1', '--user', 'alice'], 'give either GRANT_ID or --user USERNAME [--client CLIENT_ID], not both'],
    [['g-a1', '--client', 'agent-1'], 'give either GRANT_ID or --user USERNAME [--client CLIENT_ID], not both'],
    [
      ['--client', 'agent-1'],
      '--client needs --user USERNAME; to cut an agent off everywhere: mcp-oauth clients disable CLIENT_ID',
    ],
    [['--user', 'carol'], 'no user named carol'],
  ])('refuses %j with one line and revokes nothing', async (args, message) => {
    const { cli } = await setup();
    const before = (await feed(cli)).length;
    expect(await cli.run(['grants', 'revoke', ...args])).toEqual({ code: 1, out: '', err: `mcp-oauth: ${message}\n` });
    expect(await activeIds(cli)).toEqual(['g-a1', 'g-a2', 'g-b1']);
    expect(await feed(cli)).toHaveLength(before);
    expect(await cli.withSql((sql) => queryAudit(sql))).toEqual([]);
  });
});

describe('clients disable and enable', () => {
  it('disabling revokes everything the agent holds; enabling lets it start over', async () => {
    const { cli } = await setup();
    expect(await cli.run(['clients', 'disable', 'agent-1'])).toEqual({
      code: 0,
      out: 'disabled client agent-1; revoked 2 grants\n',
      err: '',
    });
    expect(await activeIds(cli)).toEqual(['g-a2']);
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'client', subject: 'agent-1' });
    expect((await cli.run(['clients', 'list'])).out).toMatch(/\nagent-1\s.*\sdisabled\n/);
    expect((await cli.run(['clients', 'disable', 'agent-1'])).out).toBe('client agent-1 is already disabled\n');
    const rows = await cli.withSql((sql) => queryAudit(sql, { clientId: 'agent-1' }));
    expect(rows.map((r) => r.event).sort()).toEqual(['client.disabled', 'grant.revoked', 'grant.revoked']);
    expect(rows.find((r) => r.event === 'grant.revoked')?.details).toEqual({ by: 'cli', reason: 'agent disabled' });
    // The same operation as the console's and the API's: the event says how much it revoked.
    expect(rows.find((r) => r.event === 'client.disabled')?.details).toEqual({ by: 'cli', grants_revoked: 2 });

    expect(await cli.run(['clients', 'enable', 'agent-1'])).toEqual({
      code: 0,
      out: 'enabled client agent-1; its users must consent again\n',
      err: '',
    });
    expect((await cli.run(['clients', 'list'])).out).toMatch(/\nagent-1\s.*\sactive\n/);
    expect((await cli.run(['clients', 'enable', 'agent-1'])).out).toBe('client agent-1 is not disabled\n');
    expect(await cli.withSql((sql) => queryAudit(sql, { event: 'client.enabled' }))).toHaveLength(1);
  });

  it.each([['disable'], ['enable']])('%s refuses an unknown client', async (command) => {
    const { cli } = await setup();
    expect(await cli.run(['clients', command, 'nope'])).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: no client "nope"\n',
    });
  });

  it('delete revokes the grants through the feed and records it', async () => {
    const { cli } = await setup();
    expect((await cli.run(['clients', 'delete', 'agent-2'])).code).toBe(0);
    expect(await activeIds(cli)).toEqual(['g-a1', 'g-b1']);
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'client', subject: 'agent-2' });
    const rows = await cli.withSql((sql) => queryAudit(sql, { clientId: 'agent-2' }));
    expect(rows.map((r) => r.event).sort()).toEqual(['client.deleted', 'grant.revoked']);
  });
});

describe('users disable, enable, add, passwd and keys rotate are audited', () => {
  it('disabling a user revokes their grants with a user feed entry', async () => {
    const { cli, ids } = await setup();
    expect(await cli.run(['users', 'disable', 'alice'])).toEqual({
      code: 0,
      out: 'disabled user alice; revoked 2 grants\n',
      err: '',
    });
    expect(await activeIds(cli)).toEqual(['g-b1']);
    expect(await providerRows(cli, 'g-a1')).toEqual([]);
    expect((await feed(cli)).at(-1)).toMatchObject({ kind: 'user', subject: ids.alice });
    const rows = await cli.withSql((sql) => queryAudit(sql, { userId: ids.alice }));
    expect(rows.map((r) => r.event).sort()).toEqual(['grant.revoked', 'grant.revoked', 'user.disabled']);
    expect(rows.find((r) => r.event === 'user.disabled')?.details).toEqual({
      by: 'cli',
      grants_revoked: 2,
      sessions_ended: 0,
    });
    expect(await cli.run(['users', 'enable', 'alice'])).toEqual({ code: 0, out: 'enabled user alice\n', err: '' });
    expect(await cli.withSql(async (sql) => (await createUserRepository(sql).findById(ids.alice))?.disabled)).toBe(
      false,
    );
    // Enabling gives nothing back: the grants stay revoked.
    expect(await activeIds(cli)).toEqual(['g-b1']);
    expect((await cli.withSql((sql) => queryAudit(sql, { event: 'user.enabled' })))[0]).toMatchObject({
      username: 'alice',
    });
  });

  it('records user creation, password changes and key rotation, never the password', async () => {
    const cli = cliFor();
    const password = 'correct horse battery';
    expect((await cli.run(['users', 'add', 'carol', '--admin'], { stdin: `${password}\n` })).code).toBe(0);
    expect((await cli.run(['users', 'passwd', 'carol'], { stdin: `${password} 2\n` })).code).toBe(0);
    expect((await cli.run(['keys', 'rotate', '--json'])).code).toBe(0);
    const rows = await cli.withSql((sql) => queryAudit(sql));
    expect(rows.map((r) => r.event).sort()).toEqual(['key.rotated', 'user.created', 'user.password_changed']);
    expect(rows.find((r) => r.event === 'user.created')).toMatchObject({
      username: 'carol',
      details: { by: 'cli', admin: true },
    });
    expect(rows.find((r) => r.event === 'key.rotated')?.details).toMatchObject({ by: 'cli', kid: expect.any(String) });
    const raw = await cli.withSql(async (sql) => JSON.stringify(await sql.all('SELECT * FROM audit_events')));
    expect(raw).not.toContain(password);
  });
});
