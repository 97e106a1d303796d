import { describe, expect, it } from 'vitest';
import { createAudit } from '../../src/audit/index.js';
import type { AuditRow } from '../../src/audit/query.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import type { Sql } from '../../src/storage/engine.js';
import { createOidcStore } from '../../src/storage/oidc_adapter.js';
import { createUserRepository } from '../../src/storage/users.js';
import { type Cli, cliFor } from '../support/cli.js';

const HOUR = 3600;

/** Five events at known ages, oldest first. */
async function seed(sql: Sql, now: number): Promise<{ alice: string }> {
  const alice = (await createUserRepository(sql).create('alice', 'not-a-real-hash', false)).id;
  await createOidcStore(sql).upsert(
    'Client',
    'agent-1',
    { client_id: 'agent-1', client_name: 'Claude Code' },
    undefined,
  );
  let at = 0;
  const audit = createAudit(sql, createLogger('silent'), { now: () => at });
  const record = async (age: number, e: Parameters<typeof audit.record>[0]) => {
    at = now - age;
    await audit.record(e);
  };
  await record(3 * 86400, { event: 'user.created', result: 'success', userId: alice, details: { by: 'cli' } });
  await record(2 * HOUR, {
    event: 'login.failure',
    result: 'failure',
    clientId: 'agent-1',
    ip: '203.0.113.7',
    details: { reason: 'unknown_user', username: 'mall…' },
  });
  await record(HOUR + 60, {
    event: 'login.failure',
    result: 'failure',
    userId: alice,
    clientId: 'agent-1',
    ip: '203.0.113.7',
    details: { reason: 'wrong_password' },
  });
  await record(HOUR - 60, {
    event: 'login.success',
    result: 'success',
    userId: alice,
    clientId: 'agent-1',
    ip: '127.0.0.1',
  });
  await record(30, {
    event: 'token.issued',
    result: 'success',
    userId: alice,
    clientId: 'agent-1',
    resource: 'https://mcp.example.com/mcp',
    grantId: 'grant-1',
    ip: '127.0.0.1',
    userAgent: 'node',
    details: { grant_type: 'authorization_code', scope: 'mcp:read' },
  });
  return { alice };
}

async function setup(): Promise<{ cli: Cli; now: number; alice: string }> {
  const cli = cliFor();
  const now = epochSeconds();
  const { alice } = await cli.withSql((sql) => seed(sql, now));
  return { cli, now, alice };
}

async function events(cli: Cli, args: string[]): Promise<string[]> {
  const result = await cli.run(['audit', ...args, '--json']);
  expect(result.code).toBe(0);
  return (JSON.parse(result.out) as AuditRow[]).map((r) => r.event);
}

describe('mcp-oauth audit', () => {
  it('prints a table, newest first, with usernames', async () => {
    const { cli } = await setup();
    const result = await cli.run(['audit']);
    expect(result.code).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+EVENT\s+RESULT\s+USER\s+CLIENT\s+RESOURCE\s+GRANT\s+IP$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        /^\S+Z\s+token\.issued\s+success\s+alice\s+agent-1\s+https:\/\/mcp\.example\.com\/mcp\s+grant-1\s+127\.0\.0\.1$/,
      ),
      expect.stringMatching(/^\S+Z\s+login\.success\s+success\s+alice\s+agent-1\s+-\s+-\s+127\.0\.0\.1$/),
      expect.stringMatching(/^\S+Z\s+login\.failure\s+failure\s+alice\s+agent-1\s+-\s+-\s+203\.0\.113\.7$/),
      expect.stringMatching(/^\S+Z\s+login\.failure\s+failure\s+"mall…"\s+agent-1\s+-\s+-\s+203\.0\.113\.7$/),
      expect.stringMatching(/^\S+Z\s+user\.created\s+success\s+alice\s+-\s+-\s+-\s+-$/),
    ]);
  });

  it('prints JSON rows for scripts', async () => {
    const { cli, now, alice } = await setup();
    const rows = JSON.parse((await cli.run(['audit', '--json', '--limit', '1'])).out) as AuditRow[];
    expect(rows).toEqual([
      {
        id: 5,
        at: now - 30,
        event: 'token.issued',
        result: 'success',
        userId: alice,
        username: 'alice',
        clientId: 'agent-1',
        clientName: 'Claude Code',
        resource: 'https://mcp.example.com/mcp',
        grantId: 'grant-1',
        ip: '127.0.0.1',
        userAgent: 'node',
        details: { grant_type: 'authorization_code', scope: 'mcp:read' },
      },
    ]);
  });

  it.each([
    [
      ['--user', 'alice'],
      ['token.issued', 'login.success', 'login.failure', 'user.created'],
    ],
    [
      ['--client', 'agent-1'],
      ['token.issued', 'login.success', 'login.failure', 'login.failure'],
    ],
    [['--client', 'agent-2'], []],
    [
      ['--event', 'login'],
      ['login.success', 'login.failure', 'login.failure'],
    ],
    [
      ['--event', 'login.*'],
      ['login.success', 'login.failure', 'login.failure'],
    ],
    [
      ['--event', 'login.failure'],
      ['login.failure', 'login.failure'],
    ],
    [['--event', 'login.fail'], []],
    [['--event', 'log'], []],
    [
      ['--since', '1h'],
      ['token.issued', 'login.success'],
    ],
    [
      ['--since', '90m'],
      ['token.issued', 'login.success', 'login.failure'],
    ],
    [
      ['--since', '1d'],
      ['token.issued', 'login.success', 'login.failure', 'login.failure'],
    ],
    [
      ['--user', 'alice', '--event', 'login', '--since', '2h'],
      ['login.success', 'login.failure'],
    ],
    [
      ['--limit', '2'],
      ['token.issued', 'login.success'],
    ],
  ])('filters with %j', async (args, expected) => {
    const { cli } = await setup();
    expect(await events(cli, args)).toEqual(expected);
  });

  it('takes --since as epoch seconds or an ISO 8601 time', async () => {
    const { cli, now } = await setup();
    expect(await events(cli, ['--since', String(now - 100)])).toEqual(['token.issued']);
    const iso = new Date((now - HOUR) * 1000).toISOString();
    expect(await events(cli, ['--since', iso])).toEqual(['token.issued', 'login.success']);
  });

  it.each([
    [['--since', 'yesterday'], '--since must be an age like 30m, 1h or 2d, epoch seconds, or a date'],
    [['--since', '-1h'], '--since must be an age like 30m, 1h or 2d, epoch seconds, or a date'],
    [['--limit', '0'], '--limit must be a number from 1 to 10000'],
    [['--limit', 'all'], '--limit must be a number from 1 to 10000'],
    [['--user', 'carol'], 'no user named carol'],
  ])('refuses %j with one line', async (args, message) => {
    const { cli } = await setup();
    expect(await cli.run(['audit', ...args])).toEqual({ code: 1, out: '', err: `mcp-oauth: ${message}\n` });
  });

  it('says when nothing matches, and escapes what registrants chose', async () => {
    const cli = cliFor();
    expect((await cli.run(['audit'])).out).toBe('no matching audit events\n');
    await cli.withSql((sql) =>
      createAudit(sql, createLogger('silent')).record({
        event: 'client.registered',
        result: 'success',
        clientId: 'evil\u001b[2J',
      }),
    );
    const out = (await cli.run(['audit'])).out;
    expect(out).toContain('evil\\u001b[2J');
    expect(out).not.toContain('\u001b');
  });
});

describe('purge prunes the audit trail', () => {
  it('deletes events older than MCP_OAUTH_AUDIT_RETENTION (default 90 days)', async () => {
    const { cli } = await setup();
    const now = epochSeconds();
    await cli.withSql(async (sql) => {
      const insert = "INSERT INTO audit_events (at, event, result) VALUES (?, 'login.success', 'success')";
      await sql.run(insert, [now - 91 * 86400]);
      await sql.run(insert, [now - 89 * 86400]);
    });
    const first = await cli.run(['purge']);
    expect(first.code).toBe(0);
    expect(first.out.split('\n')[1]).toBe(
      'purged 0 expired revocation-feed entries and 1 audit events older than 90 days',
    );
    expect(await cli.withSql((sql) => sql.get('SELECT count(*) AS n FROM audit_events'))).toEqual({ n: 6 });
    const second = await cli.run(['purge'], { env: { MCP_OAUTH_AUDIT_RETENTION: '2d' } });
    expect(second.out.split('\n')[1]).toBe(
      'purged 0 expired revocation-feed entries and 2 audit events older than 2 days',
    );
    expect(await events(cli, [])).toEqual(['token.issued', 'login.success', 'login.failure', 'login.failure']);
  });

  it('refuses a retention under a day', async () => {
    const result = await cliFor().run(['purge'], { env: { MCP_OAUTH_AUDIT_RETENTION: '12h' } });
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: MCP_OAUTH_AUDIT_RETENTION must be between 86400s and 315360000s\n',
    });
  });
});
