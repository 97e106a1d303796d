// Scope descriptions per language: set with `resources add --description-ja/--description-ko` or
// later with `resources describe`, stored in resource_scope_descriptions (migration 0005), removed
// with their resource; bad input is refused and changes nothing.
import { describe, expect, it } from 'vitest';
import { createResourceRepository } from '../../src/storage/resources.js';
import { cliFor } from '../support/cli.js';

const URI = 'https://files.example.com/mcp';

describe('per-language scope descriptions', () => {
  it('are stored by resources add and shown by it in extra columns', async () => {
    const cli = cliFor();
    const result = await cli.run([
      'resources',
      'add',
      URI,
      '--name',
      'Files',
      '--description-ja',
      'mcp:read=データの読み取り',
      '--description-ko',
      'mcp:write=데이터 변경',
      '--description-ja',
      'mcp:write=データの変更',
    ]);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toContain('DESCRIPTION (JA)');
    expect(result.out).toContain('DESCRIPTION (KO)');
    const stored = await cli.withSql((sql) => createResourceRepository(sql).findByUri(URI));
    expect(stored?.scopes.map((s) => [s.scope, s.description, s.descriptions])).toEqual([
      ['mcp:read', 'Read data and list tools', { ja: 'データの読み取り' }],
      ['mcp:write', 'Change data and call tools that write', { ja: 'データの変更', ko: '데이터 변경' }],
    ]);
  });

  it('keep the output of resources add unchanged when none are given', async () => {
    const cli = cliFor();
    const result = await cli.run(['resources', 'add', URI, '--name', 'Files', '--json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.out) as { scopes: Record<string, unknown>[] };
    expect(printed.scopes.every((s) => !('descriptions' in s))).toBe(true);
  });

  it('are set and replaced later by resources describe', async () => {
    const cli = cliFor();
    await cli.run(['resources', 'add', URI, '--name', 'Files']);
    const first = await cli.run(['resources', 'describe', URI, '--lang', 'ko', '--scope', 'mcp:read=데이터 읽기']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain(`updated ko descriptions of ${URI}`);
    const again = await cli.run(['resources', 'describe', URI, '--lang', 'ko', '--scope', 'mcp:read=데이터 조회']);
    expect(again.code).toBe(0);
    const stored = await cli.withSql((sql) => createResourceRepository(sql).findByUri(URI));
    expect(stored?.scopes[0]?.descriptions).toEqual({ ko: '데이터 조회' });
    expect(stored?.scopes[1]?.descriptions).toBeUndefined();
  });

  it.each([
    [['--lang', 'en', '--scope', 'mcp:read=x'], '--lang must be one of ja, ko'],
    [['--lang', 'fr', '--scope', 'mcp:read=x'], '--lang must be one of ja, ko'],
    [['--lang', 'ja', '--scope', 'mcp:read='], '--scope needs 1-500 characters'],
    [['--lang', 'ja', '--scope', 'mcp:read'], '--scope needs 1-500 characters'],
    [['--lang', 'ja', '--scope', `mcp:read=${'あ'.repeat(501)}`], '--scope needs 1-500 characters'],
    [['--lang', 'ja', '--scope', 'mcp:read=a\u0007b'], '--scope needs 1-500 characters'],
    [['--lang', 'ja', '--scope', 'mcp:admin=管理'], `resource ${URI} has no scope mcp:admin`],
    [['--lang', 'ja', '--scope', 'mcp:read=a', '--scope', 'mcp:read=b'], 'scope mcp:read is given twice'],
  ])('resources describe refuses %j and changes nothing', async (args, message) => {
    const cli = cliFor();
    await cli.run(['resources', 'add', URI, '--name', 'Files']);
    const result = await cli.run(['resources', 'describe', URI, ...args, '--scope', 'mcp:write=変更']);
    expect(result.code).toBe(1);
    expect(result.err).toContain(message);
    const stored = await cli.withSql((sql) => createResourceRepository(sql).findByUri(URI));
    expect(stored?.scopes.some((s) => s.descriptions)).toBe(false);
  });

  it('refuses a description for a scope the resource does not offer, or given twice, on add', async () => {
    const cli = cliFor();
    const unknown = await cli.run(['resources', 'add', URI, '--name', 'F', '--description-ja', 'x:y=z']);
    expect(unknown).toEqual({
      code: 1,
      out: '',
      err: `mcp-oauth: --description-ja "x:y" is not one of the resource's scopes\n`,
    });
    const twice = await cli.run([
      'resources',
      'add',
      URI,
      '--name',
      'F',
      '--description-ko',
      'mcp:read=a',
      '--description-ko',
      'mcp:read=b',
    ]);
    expect(twice.err).toBe('mcp-oauth: --description-ko gives scope mcp:read twice\n');
    expect(await cli.withSql((sql) => createResourceRepository(sql).count())).toBe(0);
  });

  it('go with their resource when it is removed', async () => {
    const cli = cliFor();
    await cli.run(['resources', 'add', URI, '--name', 'Files', '--description-ja', 'mcp:read=読み取り']);
    expect((await cli.run(['resources', 'remove', URI])).code).toBe(0);
    const left = await cli.withSql(
      async (sql) => ((await sql.get('SELECT count(*) AS n FROM resource_scope_descriptions')) as { n: number }).n,
    );
    expect(left).toBe(0);
  });

  it('resources describe on an unknown resource fails', async () => {
    const cli = cliFor();
    const result = await cli.run(['resources', 'describe', URI, '--lang', 'ja', '--scope', 'mcp:read=x']);
    expect(result).toEqual({ code: 1, out: '', err: `mcp-oauth: no resource ${URI}\n` });
  });
});
