// The last resort for a locked-out user (an admin whose phone and recovery codes are both gone):
// `mcp-oauth users reset-factors` removes their passkeys and authenticator app from the command
// line, audited with the CLI as actor.
import { describe, expect, it } from 'vitest';
import { createFactorRepository } from '../../src/storage/factors.js';
import { createUserRepository } from '../../src/storage/users.js';
import { cliFor } from '../support/cli.js';

const PASSWORD = 'correct horse battery staple';

describe('mcp-oauth users reset-factors', () => {
  it("removes a user's factors and says what went", async () => {
    const cli = cliFor();
    expect((await cli.run(['users', 'add', 'ada', '--admin'], { stdin: `${PASSWORD}\n` })).code).toBe(0);
    await cli.withSql(async (sql) => {
      const ada = await createUserRepository(sql).findByUsername('ada');
      const factors = createFactorRepository(sql);
      await factors.startTotp(ada?.id ?? '', 'JBSWY3DPEHPK3PXP', 0);
      await factors.confirmTotp(ada?.id ?? '', 1, 0);
      await factors.addPasskey({
        id: 'k1',
        userId: ada?.id ?? '',
        publicKey: new Uint8Array(1),
        counter: 0,
        transports: [],
        name: 'Key',
        createdAt: 0,
      });
    });
    const result = await cli.run(['users', 'reset-factors', 'ada']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('reset the sign-in of ada: 1 passkey and the authenticator app removed');
    await cli.withSql(async (sql) => {
      const ada = await createUserRepository(sql).findByUsername('ada');
      const factors = createFactorRepository(sql);
      expect(await factors.totp(ada?.id ?? '')).toBeUndefined();
      expect(await factors.passkeys(ada?.id ?? '')).toHaveLength(0);
      const row = (await sql.get("SELECT details FROM audit_events WHERE event = 'user.factors_reset'")) as {
        details: string;
      };
      expect(JSON.parse(row.details)).toMatchObject({ by: 'cli', totp: true, passkeys: 1 });
    });
    const unknown = await cli.run(['users', 'reset-factors', 'nobody']);
    expect(unknown.code).not.toBe(0);
  });
});
