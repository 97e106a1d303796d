// Pre-provisioning a user who will sign in through an identity provider: no password to prompt for,
// and none that could ever sign them in.
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../src/provider/accounts.js';
import { createUserRepository } from '../../src/storage/users.js';
import { NO_PASSWORD } from '../../src/web/sso.js';
import { cliFor } from '../support/cli.js';

describe('mcp-oauth users add --sso-only', () => {
  it('adds a user without a password, whom no password signs in', async () => {
    const cli = cliFor();
    const added = await cli.run(['users', 'add', 'carol@acme.test', '--sso-only', '--json']);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ username: 'carol@acme.test', isAdmin: false });
    await cli.withSql(async (sql) => {
      const users = createUserRepository(sql);
      expect((await users.findByUsername('carol@acme.test'))?.passwordHash).toBe(NO_PASSWORD);
      for (const guess of [NO_PASSWORD, '', 'password', '!sso ']) {
        expect(await authenticate(users, 'carol@acme.test', guess)).toBeUndefined();
      }
    });
  });
});
