import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { cliFor, databaseFile, tempDataDir } from '../support/cli.js';

const PASSWORD = 'correct horse battery staple';

// Run from the wrong directory, ./data is not the server's database: a command that reads or
// changes what is there must say so instead of answering from a new, empty one.
describe('a missing database', () => {
  it.each([
    [['users', 'list']],
    [['users', 'disable', 'alice']],
    [['users', 'passwd', 'alice']],
    [['resources', 'list']],
    [['resources', 'remove', 'https://mcp.example.com/mcp']],
    [['clients', 'list']],
    [['grants', 'list']],
    [['grants', 'revoke', 'some-grant']],
    [['grants', 'revoke', '--user', 'alice']],
    [['keys', 'list']],
    [['audit']],
    [['admin-tokens', 'list']],
    [['admin-tokens', 'create', '--name', 'ci']],
    [['clients', 'token']],
    [['keys', 'rotate']],
    [['purge']],
  ])('%j refuses it, names the path and MCP_OAUTH_DATA_DIR, and creates nothing', async (argv) => {
    const cli = cliFor(tempDataDir());
    const result = await cli.run(argv, { stdin: `${PASSWORD}\n` });
    expect(result).toEqual({
      code: 1,
      out: '',
      err: `mcp-oauth: no database at ${databaseFile(cli.dataDir)} (from MCP_OAUTH_DATA_DIR): set MCP_OAUTH_DATA_DIR to the directory that holds the server's mcp-oauth.sqlite, or start a new one with: mcp-oauth migrate\n`,
    });
    expect(readdirSync(cli.dataDir)).toEqual([]);
  });

  it('is refused in a data directory that does not exist, without creating it', async () => {
    const cli = cliFor(`${tempDataDir()}/nowhere`);
    const result = await cli.run(['users', 'list']);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`no database at ${databaseFile(cli.dataDir)}`);
    expect(existsSync(cli.dataDir)).toBe(false);
  });
});

describe('commands that set something up', () => {
  it.each([
    [['migrate']],
    [['users', 'add', 'alice', '--admin']],
    [['resources', 'add', 'https://mcp.example.com/mcp', '--name', 'Orders']],
  ])('%j creates the database and says where, once', async (argv) => {
    const cli = cliFor(tempDataDir());
    const first = await cli.run(argv, { stdin: `${PASSWORD}\n` });
    expect(first.code).toBe(0);
    expect(first.err.split('\n')[0]).toBe(
      `mcp-oauth: created a new database at ${databaseFile(cli.dataDir)} (from MCP_OAUTH_DATA_DIR)`,
    );
    expect(existsSync(databaseFile(cli.dataDir))).toBe(true);
    const again = await cli.run(['users', 'list']);
    expect(again.code).toBe(0);
    expect(again.err).toBe('');
  });
});

describe('without MCP_OAUTH_DATA_DIR', () => {
  /** Runs the CLI with an empty environment from `cwd` (test files run in their own process). */
  async function runIn(cwd: string, argv: string[]) {
    let out = '';
    let err = '';
    const before = process.cwd();
    process.chdir(cwd);
    try {
      const code = await runCli(argv, {
        env: {},
        stdin: Readable.from(['']),
        stdout: {
          write: (s) => {
            out += s;
          },
        },
        stderr: {
          write: (s) => {
            err += s;
          },
        },
      });
      return { code, out, err };
    } finally {
      process.chdir(before);
    }
  }

  it('names ./data under the current directory, both when refusing and when creating', async () => {
    const cwd = tempDataDir();
    const file = path.join(cwd, 'data', 'mcp-oauth.sqlite');
    const hint = 'MCP_OAUTH_DATA_DIR is not set, so it is ./data under the current directory';
    const refused = await runIn(cwd, ['users', 'list']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`^mcp-oauth: no database at ${file} \\(${hint}\\): `));
    expect(existsSync(path.join(cwd, 'data'))).toBe(false);

    const created = await runIn(cwd, ['migrate']);
    expect(created.code).toBe(0);
    expect(created.err).toBe(`mcp-oauth: created a new database at ${file} (${hint})\n`);
    expect(await runIn(cwd, ['users', 'list'])).toEqual({
      code: 0,
      out: 'no users; add one with: mcp-oauth users add USERNAME --admin\n',
      err: '',
    });
  });
});
