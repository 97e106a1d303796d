import { describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { ensureSigningKey, type KeyStatus, keyStatuses } from '../../src/provider/keys.js';
import { createKeyRepository } from '../../src/storage/keys.js';
import { type Cli, cliFor } from '../support/cli.js';

// Default MCP_OAUTH_ACCESS_TOKEN_TTL (300) plus the 300s clock allowance.
const MAX_TOKEN_LIFETIME = 600;

async function listJson(cli: Cli): Promise<KeyStatus[]> {
  const result = await cli.run(['keys', 'list', '--json']);
  expect(result.code).toBe(0);
  return JSON.parse(result.out) as KeyStatus[];
}

async function cliWithKey(): Promise<{ cli: Cli; kid: string }> {
  const cli = cliFor();
  const kid = await cli.withSql(async (sql) => {
    const keys = createKeyRepository(sql);
    await ensureSigningKey(keys, epochSeconds() - 3600);
    return (await keyStatuses(keys))[0]?.kid ?? '';
  });
  return { cli, kid };
}

describe('keys', () => {
  it('lists nothing on a new database, and does not create a key', async () => {
    const cli = cliFor();
    expect(await cli.run(['keys', 'list'])).toEqual({
      code: 0,
      out: 'no signing keys; the server creates one when it starts\n',
      err: '',
    });
    expect(await listJson(cli)).toEqual([]);
  });

  it('rotates with a delay: the new key is pending, the old one keeps signing until then and expires after', async () => {
    const { cli, kid: oldKid } = await cliWithKey();
    const before = epochSeconds();
    const result = await cli.run(['keys', 'rotate', '--delay', '10m', '--json']);
    expect(result.code).toBe(0);
    const created = JSON.parse(result.out) as KeyStatus;
    expect(created.state).toBe('pending');
    expect(created.activatesAt - created.createdAt).toBe(600);
    expect(created.createdAt).toBeGreaterThanOrEqual(before);

    const keys = await listJson(cli);
    expect(keys.map((k) => [k.kid, k.state])).toEqual([
      [created.kid, 'pending'],
      [oldKid, 'signing'],
    ]);
    expect(keys[1]?.expiresAt).toBe(created.activatesAt + MAX_TOKEN_LIFETIME);
    expect(keys[0]?.expiresAt).toBeNull();
  });

  it('rotates with no delay: the new key signs at once and the old one is retired with an expiry', async () => {
    const { cli, kid: oldKid } = await cliWithKey();
    const result = await cli.run(['keys', 'rotate', '--delay', '0']);
    expect(result.code).toBe(0);
    const keys = await listJson(cli);
    expect(keys.map((k) => k.state)).toEqual(['signing', 'retired']);
    const [fresh, old] = keys;
    expect(old?.kid).toBe(oldKid);
    expect(old?.expiresAt).toBe((fresh?.activatesAt ?? 0) + MAX_TOKEN_LIFETIME);
    expect(result.out.split('\n')[0]).toMatch(new RegExp(`^published key ${fresh?.kid}; it signs from \\d{4}-\\S+Z$`));
    expect(result.out).toMatch(new RegExp(`\\n${oldKid}\\s+retired\\s+`));
  });

  it('uses MCP_OAUTH_KEY_ACTIVATION_DELAY when no --delay is given', async () => {
    const { cli } = await cliWithKey();
    const result = await cli.run(['keys', 'rotate', '--json'], { env: { MCP_OAUTH_KEY_ACTIVATION_DELAY: '2h' } });
    const created = JSON.parse(result.out) as KeyStatus;
    expect(created.activatesAt - created.createdAt).toBe(7200);
  });

  it('creates a first key that signs at once when the store is empty', async () => {
    const cli = cliFor();
    const result = await cli.run(['keys', 'rotate', '--delay', '1h', '--json']);
    expect(result.code).toBe(0);
    const created = JSON.parse(result.out) as KeyStatus;
    expect(created.state).toBe('signing');
    expect(created.activatesAt).toBeLessThanOrEqual(epochSeconds());
    expect(await listJson(cli)).toEqual([created]);
  });

  it('refuses a bad --delay', async () => {
    const { cli } = await cliWithKey();
    const result = await cli.run(['keys', 'rotate', '--delay', 'soon']);
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: --delay must be a duration like 0, 900, 15m or 1d, at most 2592000s\n',
    });
    expect(await listJson(cli)).toHaveLength(1);
  });
});
