import { describe, expect, it } from 'vitest';
import type { Sql } from '../../src/storage/engine.js';
import { createOidcStore } from '../../src/storage/oidc_adapter.js';
import { cliFor } from '../support/cli.js';

const AGENT = 'agent-1';
const OTHER = 'agent-2';
const SECRET = 'super-secret-client-secret-value';

/** Rows as oidc-provider writes them through our adapter. */
async function seed(sql: Sql): Promise<void> {
  const store = createOidcStore(sql);
  await store.upsert(
    'Client',
    AGENT,
    {
      client_id: AGENT,
      client_name: 'Claude Code',
      client_secret: SECRET,
      client_id_issued_at: 1_700_000_000,
      redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1:3000/cb', 'cursor://auth/cb'],
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      software_id: 'claude-code',
    },
    undefined,
  );
  await store.upsert(
    'Client',
    OTHER,
    { client_id: OTHER, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] },
    undefined,
  );
  await store.upsert('Grant', 'grant-1', { accountId: 'user-1', clientId: AGENT }, 3600);
  await store.upsert('RefreshToken', 'rt-1', { accountId: 'user-1', clientId: AGENT, grantId: 'grant-1' }, 3600);
  await store.upsert('AuthorizationCode', 'code-1', { accountId: 'user-1', clientId: AGENT, grantId: 'grant-1' }, 60);
  await store.upsert('RegistrationAccessToken', 'rat-1', { clientId: AGENT }, undefined);
  await store.upsert('Grant', 'grant-2', { accountId: 'user-1', clientId: OTHER }, 3600);
}

async function rowsOf(sql: Sql, clientId: string): Promise<string[]> {
  const rows = await sql.all('SELECT model, id FROM oidc_models WHERE client_id = ? OR id = ? ORDER BY model, id', [
    clientId,
    clientId,
  ]);
  return (rows as { model: string; id: string }[]).map((r) => `${r.model}:${r.id}`);
}

describe('clients', () => {
  it('lists clients with name, redirect hosts, issue time and type', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    const result = await cli.run(['clients', 'list']);
    expect(result.code).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLIENT_ID\s+NAME\s+REDIRECT_HOSTS\s+ISSUED\s+TYPE\s+STATUS$/);
    expect(lines[1]).toMatch(
      /^agent-1\s+Claude Code\s+127\.0\.0\.1,cursor:\/\/auth\s+2023-11-14T22:13:20Z\s+native\s+active$/,
    );
    expect(lines[2]).toMatch(/^agent-2\s+-\s+claude\.ai\s+\d{4}-\S+Z\s+web\s+active$/);
    expect(result.out).not.toContain(SECRET);

    const json = JSON.parse((await cli.run(['clients', 'list', '--json'])).out) as unknown[];
    expect(json[0]).toEqual({
      clientId: AGENT,
      name: 'Claude Code',
      redirectHosts: ['127.0.0.1', 'cursor://auth'],
      issuedAt: 1_700_000_000,
      applicationType: 'native',
      disabled: false,
    });
  });

  it('escapes control characters a registrant put in its name', async () => {
    const cli = cliFor();
    await cli.withSql((sql) =>
      createOidcStore(sql).upsert(
        'Client',
        'evil',
        { client_id: 'evil', client_name: 'Evil\u001b[2J\u202e' },
        undefined,
      ),
    );
    const result = await cli.run(['clients', 'list']);
    expect(result.out).toContain('Evil\\u001b[2J\\u202e');
    expect(result.out).not.toMatch(/[\u001b\u202e]/);
  });

  it('shows metadata without the secret or registration access token, and what was issued', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    const text = await cli.run(['clients', 'show', AGENT]);
    expect(text.code).toBe(0);
    expect(text.out).toContain('client_name: Claude Code\n');
    expect(text.out).toContain(
      'redirect_uris: http://127.0.0.1/callback, http://127.0.0.1:3000/cb, cursor://auth/cb\n',
    );
    expect(text.out).toContain(
      'issued to it: AuthorizationCode 1, Grant 1, RefreshToken 1, RegistrationAccessToken 1\n',
    );
    expect(text.out).not.toContain(SECRET);
    expect(text.out).not.toContain('client_secret');

    const json = JSON.parse((await cli.run(['clients', 'show', AGENT, '--json'])).out) as {
      client: Record<string, unknown>;
      related: unknown;
    };
    expect(json.client.client_id).toBe(AGENT);
    expect(json.client.software_id).toBe('claude-code');
    expect('client_secret' in json.client).toBe(false);
    expect(json.related).toEqual({ AuthorizationCode: 1, Grant: 1, RefreshToken: 1, RegistrationAccessToken: 1 });
  });

  it('deletes a client with its grants, codes and tokens, leaving other clients alone', async () => {
    const cli = cliFor();
    await cli.withSql(seed);
    const result = await cli.run(['clients', 'delete', AGENT]);
    expect(result).toEqual({
      code: 0,
      out: 'deleted client agent-1; also deleted: AuthorizationCode 1, Grant 1, RefreshToken 1, RegistrationAccessToken 1\n',
      err: '',
    });
    expect(await cli.withSql((sql) => rowsOf(sql, AGENT))).toEqual([]);
    expect(await cli.withSql((sql) => rowsOf(sql, OTHER))).toEqual(['Client:agent-2', 'Grant:grant-2']);
  });

  it.each([['show'], ['delete']])('%s refuses an unknown client', async (command) => {
    const cli = cliFor();
    await cli.withSql(seed);
    const result = await cli.run(['clients', command, 'nope']);
    expect(result).toEqual({ code: 1, out: '', err: 'mcp-oauth: no client "nope"\n' });
    expect(await cli.withSql((sql) => rowsOf(sql, AGENT))).toHaveLength(5);
  });

  it('says when there are none', async () => {
    expect((await cliFor().run(['clients', 'list'])).out).toBe('no registered clients\n');
  });
});
