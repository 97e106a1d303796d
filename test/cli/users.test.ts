import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/lib/passwords.js';
import { createUserRepository, type User } from '../../src/storage/users.js';
import { type Cli, cliFor } from '../support/cli.js';

const PASSWORD = 'correct horse battery';

function userNamed(cli: Cli, username: string): Promise<User | undefined> {
  return cli.withSql((sql) => createUserRepository(sql).findByUsername(username));
}

/** A stdin that claims to be a terminal and records raw-mode switches. */
function fakeTty(input: string) {
  const stream = new PassThrough() as PassThrough & {
    isTTY: boolean;
    setRawMode(mode: boolean): void;
    modes: boolean[];
  };
  stream.isTTY = true;
  stream.modes = [];
  stream.setRawMode = (mode) => void stream.modes.push(mode);
  stream.write(input);
  return stream;
}

describe('users add', () => {
  it('stores an argon2id hash of the first stdin line and never prints the password', async () => {
    const cli = cliFor();
    const result = await cli.run(['users', 'add', 'alice'], { stdin: `${PASSWORD}\nignored second line\n` });
    expect(result).toEqual({ code: 0, out: 'added user alice\n', err: '' });
    const user = await userNamed(cli, 'alice');
    expect(user?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPassword(user?.passwordHash ?? '', PASSWORD)).toBe(true);
    expect(user?.isAdmin).toBe(false);
  });

  it('prints JSON without the password or its hash', async () => {
    const cli = cliFor();
    const result = await cli.run(['users', 'add', 'root', '--admin', '--json'], { stdin: `${PASSWORD}\r\n` });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.out) as Record<string, unknown>;
    const user = await userNamed(cli, 'root');
    expect(printed).toEqual({
      id: user?.id,
      username: 'root',
      isAdmin: true,
      disabled: false,
      createdAt: user?.createdAt,
      updatedAt: user?.updatedAt,
    });
    expect(result.out).not.toContain(PASSWORD);
    expect(result.out).not.toContain('argon2');
    expect(await verifyPassword(user?.passwordHash ?? '', PASSWORD)).toBe(true);
  });

  it('refuses a duplicate username (any case) with one line and exit 1', async () => {
    const cli = cliFor();
    await cli.run(['users', 'add', 'alice'], { stdin: `${PASSWORD}\n` });
    const before = (await userNamed(cli, 'alice'))?.passwordHash;
    const result = await cli.run(['users', 'add', 'ALICE'], { stdin: 'another password\n' });
    expect(result).toEqual({ code: 1, out: '', err: 'mcp-oauth: user ALICE already exists\n' });
    expect((await userNamed(cli, 'alice'))?.passwordHash).toBe(before);
  });

  it.each([
    ['a short password', 'alice', 'short\n', 'mcp-oauth: password must have at least 8 characters\n'],
    [
      'no password at all',
      'alice',
      '',
      'mcp-oauth: no password on stdin: pipe it as the first line, or run in a terminal\n',
    ],
    [
      'an invalid username',
      '-alice',
      `${PASSWORD}\n`,
      'mcp-oauth: username must be 1-64 characters: letters, digits and . _ @ + - (starting with a letter or digit)\n',
    ],
  ])('refuses %s and creates nothing', async (_case, username, stdin, message) => {
    const cli = cliFor();
    const result = await cli.run(['users', 'add', '--', username], { stdin });
    expect(result).toEqual({ code: 1, out: '', err: message });
    expect(await cli.withSql((sql) => createUserRepository(sql).list())).toEqual([]);
  });

  it('reads the password twice without echo from a terminal', async () => {
    const cli = cliFor();
    const tty = fakeTty(`${PASSWORD}\r${PASSWORD}\r`);
    const result = await cli.run(['users', 'add', 'alice'], { stdin: tty });
    expect(result).toEqual({ code: 0, out: 'added user alice\n', err: 'New password: \nRepeat the password: \n' });
    expect(tty.modes).toEqual([true, false, true, false]);
    expect(await verifyPassword((await userNamed(cli, 'alice'))?.passwordHash ?? '', PASSWORD)).toBe(true);
  });

  it('asks again at the terminal after a too-short password or two that differ', async () => {
    const cli = cliFor();
    const tty = fakeTty(`short\r${PASSWORD}\r${PASSWORD}x\r${PASSWORD}\r${PASSWORD}\r`);
    const result = await cli.run(['users', 'add', 'alice'], { stdin: tty });
    expect(result).toEqual({
      code: 0,
      out: 'added user alice\n',
      err: [
        'New password: ',
        'password must have at least 8 characters; try again',
        'New password: ',
        'Repeat the password: ',
        'the passwords do not match; try again',
        'New password: ',
        'Repeat the password: ',
        '',
      ].join('\n'),
    });
    expect(await verifyPassword((await userNamed(cli, 'alice'))?.passwordHash ?? '', PASSWORD)).toBe(true);
  });

  it('gives up at the terminal after three failed tries and creates nothing', async () => {
    const cli = cliFor();
    const pair = `${PASSWORD}\r${PASSWORD}x\r`;
    const result = await cli.run(['users', 'add', 'alice'], { stdin: fakeTty(`short\r${pair}${pair}`) });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/the passwords do not match; try again\nNew password: \nRepeat the password: \n/);
    expect(result.err.endsWith('\nmcp-oauth: the passwords do not match\n')).toBe(true);
    expect(await userNamed(cli, 'alice')).toBeUndefined();
  });
});

describe('users list, disable, enable, passwd', () => {
  async function withUsers(): Promise<Cli> {
    const cli = cliFor();
    expect((await cli.run(['users', 'add', 'bob'], { stdin: `${PASSWORD}\n` })).code).toBe(0);
    expect((await cli.run(['users', 'add', 'alice', '--admin'], { stdin: `${PASSWORD}\n` })).code).toBe(0);
    return cli;
  }

  it('lists users as a table and as JSON', async () => {
    const cli = await withUsers();
    const table = await cli.run(['users', 'list']);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+STATUS\s+CREATED$/);
    expect(lines[1]).toMatch(/^alice\s+admin\s+active\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines[2]).toMatch(/^bob\s+user\s+active\s+/);
    expect(lines).toHaveLength(3);
    const json = JSON.parse((await cli.run(['users', 'list', '--json'])).out) as Record<string, unknown>[];
    expect(json.map((u) => [u.username, u.isAdmin])).toEqual([
      ['alice', true],
      ['bob', false],
    ]);
    expect(json.every((u) => !('passwordHash' in u))).toBe(true);
  });

  it('says how to start when there are no users', async () => {
    expect(await cliFor().run(['users', 'list'])).toEqual({
      code: 0,
      out: 'no users; add one with: mcp-oauth users add USERNAME --admin\n',
      err: '',
    });
  });

  it('disables and enables a user', async () => {
    const cli = await withUsers();
    expect(await cli.run(['users', 'disable', 'bob'])).toEqual({
      code: 0,
      out: 'disabled user bob; revoked 0 grants\n',
      err: '',
    });
    expect((await userNamed(cli, 'bob'))?.disabled).toBe(true);
    expect((await userNamed(cli, 'alice'))?.disabled).toBe(false);
    expect((await cli.run(['users', 'disable', 'bob'])).out).toBe('user bob is already disabled\n');
    expect(await cli.run(['users', 'enable', 'bob'])).toEqual({ code: 0, out: 'enabled user bob\n', err: '' });
    expect((await userNamed(cli, 'bob'))?.disabled).toBe(false);
  });

  it.each([['disable'], ['enable'], ['passwd']])('%s refuses an unknown user', async (command) => {
    const cli = await withUsers();
    const result = await cli.run(['users', command, 'carol'], { stdin: `${PASSWORD}\n` });
    expect(result).toEqual({ code: 1, out: '', err: 'mcp-oauth: no user named carol\n' });
  });

  it('changes a password', async () => {
    const cli = await withUsers();
    const newPassword = 'a much better passphrase';
    const result = await cli.run(['users', 'passwd', 'bob'], { stdin: `${newPassword}\n` });
    expect(result).toEqual({ code: 0, out: 'changed the password of bob\n', err: '' });
    const hash = (await userNamed(cli, 'bob'))?.passwordHash ?? '';
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(hash, newPassword)).toBe(true);
    expect(await verifyPassword(hash, PASSWORD)).toBe(false);
  });

  it('keeps the old password when the new one is refused', async () => {
    const cli = await withUsers();
    const before = (await userNamed(cli, 'bob'))?.passwordHash;
    const result = await cli.run(['users', 'passwd', 'bob'], { stdin: 'short\n' });
    expect(result).toEqual({ code: 1, out: '', err: 'mcp-oauth: password must have at least 8 characters\n' });
    expect((await userNamed(cli, 'bob'))?.passwordHash).toBe(before);
  });
});
