import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createResourceCredentialRepository } from '../../src/storage/resource_credentials.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { cliFor } from '../support/cli.js';

const DEFAULT_SCOPES = [
  { scope: 'mcp:read', description: 'Read data and list tools', isDefault: true, isWrite: false },
  { scope: 'mcp:write', description: 'Change data and call tools that write', isDefault: false, isWrite: true },
];

describe('resources add', () => {
  it('stores the canonical URI with the default read and write scopes', async () => {
    const cli = cliFor();
    const result = await cli.run(['resources', 'add', 'https://MCP.Example.com:443/mcp/', '--name', 'Example']);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
    expect(result.out.split('\n')).toEqual([
      'added resource https://mcp.example.com/mcp (canonical form of "https://MCP.Example.com:443/mcp/")',
      'SCOPE      DEFAULT  WRITE  DESCRIPTION',
      'mcp:read   yes      no     Read data and list tools',
      'mcp:write  no       yes    Change data and call tools that write',
      '',
    ]);
    const stored = await cli.withSql((sql) => createResourceRepository(sql).findByUri('https://mcp.example.com/mcp'));
    expect(stored?.name).toBe('Example');
    expect(stored?.scopes).toEqual(DEFAULT_SCOPES);
  });

  it('takes explicit scopes, default scopes and write scopes, and prints JSON', async () => {
    const cli = cliFor();
    const result = await cli.run([
      'resources',
      'add',
      'https://files.example.com/mcp',
      '--name',
      'Files',
      '--scope',
      'files:read=Read files',
      '--scope',
      'files:write=Write files',
      '--scope',
      'files:delete=Delete files',
      '--write-scope',
      'files:delete',
      '--default-scope',
      'files:read',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.out) as { uri: string; name: string; scopes: unknown };
    expect(printed.uri).toBe('https://files.example.com/mcp');
    expect(printed.name).toBe('Files');
    expect(printed.scopes).toEqual([
      { scope: 'files:read', description: 'Read files', isDefault: true, isWrite: false },
      { scope: 'files:write', description: 'Write files', isDefault: false, isWrite: true },
      { scope: 'files:delete', description: 'Delete files', isDefault: false, isWrite: true },
    ]);
  });

  it('refuses a second spelling of a registered URI', async () => {
    const cli = cliFor();
    await cli.run(['resources', 'add', 'https://mcp.example.com/mcp', '--name', 'A']);
    const result = await cli.run(['resources', 'add', 'https://mcp.example.com/mcp/', '--name', 'B']);
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: resource https://mcp.example.com/mcp already exists\n',
    });
  });

  it.each([
    [['ftp://mcp.example.com/mcp'], 'resource indicator must be an http or https URI: "ftp://mcp.example.com/mcp"'],
    [['mcp.example.com/mcp'], 'resource indicator must be an absolute URI: "mcp.example.com/mcp"'],
    [
      ['https://mcp.example.com/mcp#x'],
      'resource indicator must not contain a fragment: "https://mcp.example.com/mcp#x"',
    ],
    [['https://x.test', '--scope', 'has space=Nope'], '--scope "has space" is not a valid scope name (RFC 6749 §3.3)'],
    [['https://x.test', '--scope', 'openid=Who you are'], '--scope openid is reserved by OpenID Connect'],
    [
      ['https://x.test', '--scope', 'a:read='],
      '--scope a:read needs a description without control characters: --scope "a:read=What it allows"',
    ],
    [['https://x.test', '--scope', 'a=A', '--scope', 'a=B'], 'scope a is given twice'],
    [
      ['https://x.test', '--default-scope', 'mcp:admin'],
      '--default-scope "mcp:admin" is not one of the resource\'s scopes',
    ],
    [['https://x.test', '--write-scope', 'nope'], '--write-scope "nope" is not one of the resource\'s scopes'],
    [
      ['https://x.test', '--scope', 'a:write=Write'],
      'the resource needs a default scope: name one with --default-scope',
    ],
  ])('refuses %j', async (args, message) => {
    const cli = cliFor();
    const result = await cli.run(['resources', 'add', ...args, '--name', 'X']);
    expect(result).toEqual({ code: 1, out: '', err: `mcp-oauth: ${message}\n` });
    expect(await cli.withSql((sql) => createResourceRepository(sql).count())).toBe(0);
  });

  it('requires --name', async () => {
    const result = await cliFor().run(['resources', 'add', 'https://x.test']);
    expect(result).toEqual({ code: 1, out: '', err: "mcp-oauth: required option '--name <name>' not specified\n" });
  });

  it('asks for the URI first when given nothing', async () => {
    const result = await cliFor().run(['resources', 'add']);
    expect(result).toEqual({ code: 1, out: '', err: "mcp-oauth: missing required argument 'uri'\n" });
  });

  it.each([['http://mcp.internal.example:8080/mcp'], ['http://10.0.0.5/mcp']])(
    'warns about plain http to another machine (%s), and still adds it',
    async (uri) => {
      const cli = cliFor();
      const result = await cli.run(['resources', 'add', uri, '--name', 'Internal']);
      expect(result.code).toBe(0);
      expect(result.err).toBe(
        `mcp-oauth: warning: ${uri} is plain http on a host other than this machine: anyone on the network between agents and it can read and replay their access tokens; use https (for example behind a TLS reverse proxy, docs/proxy.md)\n`,
      );
      expect(await cli.withSql((sql) => createResourceRepository(sql).count())).toBe(1);
    },
  );

  it.each([
    ['http://127.0.0.1:8080/mcp'],
    ['http://localhost:8080/mcp'],
    ['http://[::1]:8080/mcp'],
    ['https://x.test/mcp'],
  ])('does not warn about %s', async (uri) => {
    const result = await cliFor().run(['resources', 'add', uri, '--name', 'Local']);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
  });
});

describe('resources list and remove', () => {
  it('lists resources, removes one by any spelling, and refuses an unknown one', async () => {
    const cli = cliFor();
    await cli.run(['resources', 'add', 'https://b.example.com/mcp', '--name', 'B']);
    await cli.run([
      'resources',
      'add',
      'https://a.example.com/mcp',
      '--name',
      'A',
      '--scope',
      'a:read=Read',
      '--scope',
      'a:admin=Admin',
    ]);

    const table = await cli.run(['resources', 'list']);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^URI\s+NAME\s+SCOPES\s+CREATED$/);
    expect(lines[1]).toMatch(/^https:\/\/a\.example\.com\/mcp\s+A\s+a:read \(default\) a:admin \(default\)\s+\d{4}-/);
    expect(lines[2]).toMatch(/^https:\/\/b\.example\.com\/mcp\s+B\s+mcp:read \(default\) mcp:write \(write\)\s+\d{4}-/);

    const json = JSON.parse((await cli.run(['resources', 'list', '--json'])).out) as { uri: string; scopes: unknown }[];
    expect(json.map((r) => r.uri)).toEqual(['https://a.example.com/mcp', 'https://b.example.com/mcp']);
    expect(json[1]?.scopes).toEqual(DEFAULT_SCOPES);

    const removed = await cli.run(['resources', 'remove', 'HTTPS://B.example.com/mcp/']);
    expect(removed).toEqual({ code: 0, out: 'removed resource https://b.example.com/mcp\n', err: '' });
    const again = await cli.run(['resources', 'remove', 'https://b.example.com/mcp']);
    expect(again).toEqual({ code: 1, out: '', err: 'mcp-oauth: no resource https://b.example.com/mcp\n' });
    expect(await cli.withSql(async (sql) => (await createResourceRepository(sql).list()).map((r) => r.uri))).toEqual([
      'https://a.example.com/mcp',
    ]);
  });

  it('says how to start when there are none', async () => {
    expect((await cliFor().run(['resources', 'list'])).out).toBe(
      'no resources; add one with: mcp-oauth resources add URI --name NAME\n',
    );
  });
});

describe('resources credential', () => {
  it('prints a credential once, stores only its hash, and replaces the previous one', async () => {
    const cli = cliFor();
    expect((await cli.run(['resources', 'add', 'https://mcp.example.com/mcp', '--name', 'Example'])).code).toBe(0);
    const first = await cli.run(['resources', 'credential', 'https://mcp.example.com/mcp/', '--json']);
    expect(first.code).toBe(0);
    const one = JSON.parse(first.out) as { resource: string; client_id: string; client_secret: string };
    expect(one.resource).toBe('https://mcp.example.com/mcp');
    expect(one.client_id).toMatch(/^rs_/);
    expect(one.client_secret.length).toBeGreaterThanOrEqual(43);
    const stored = await cli.withSql(
      async (sql) => (await sql.all('SELECT secret_hash FROM resource_credentials')) as { secret_hash: string }[],
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]?.secret_hash).not.toContain(one.client_secret);
    const second = JSON.parse(
      (await cli.run(['resources', 'credential', 'https://mcp.example.com/mcp', '--json'])).out,
    ) as typeof one;
    expect(second.client_id).not.toBe(one.client_id);
    const ids = await cli.withSql(
      async (sql) => (await sql.all('SELECT id FROM resource_credentials')) as { id: string }[],
    );
    expect(ids.map((r) => r.id)).toEqual([second.client_id]);
  });

  it('writes the secret to a new 0600 file instead of printing it, and never overwrites a file', async () => {
    const cli = cliFor();
    expect((await cli.run(['resources', 'add', 'https://mcp.example.com/mcp', '--name', 'Example'])).code).toBe(0);
    const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-secret-'));
    try {
      const file = path.join(dir, 'feed.secret');
      const made = await cli.run(['resources', 'credential', 'https://mcp.example.com/mcp', '--secret-file', file]);
      expect(made.code).toBe(0);
      const secret = readFileSync(file, 'utf8');
      expect(secret.length).toBeGreaterThanOrEqual(43);
      expect(made.out).not.toContain(secret);
      expect(made.out).toContain(`client_secret: written to ${file}`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const id = /client_id: +(\S+)/.exec(made.out)?.[1] ?? '';
      expect(await cli.withSql((sql) => createResourceCredentialRepository(sql).verify(id, secret))).toBeDefined();

      const again = await cli.run(['resources', 'credential', 'https://mcp.example.com/mcp', '--secret-file', file]);
      expect(again.code).toBe(1);
      expect(again.err).toContain('already exists');
      expect(readFileSync(file, 'utf8')).toBe(secret);
      // The refused run created no credential: the one in the file still works.
      expect(await cli.withSql((sql) => createResourceCredentialRepository(sql).verify(id, secret))).toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown resource', async () => {
    const cli = cliFor();
    const result = await cli.run(['resources', 'credential', 'https://nope.example.com/mcp']);
    expect(result.code).toBe(1);
    expect(result.err).toBe('mcp-oauth: no resource https://nope.example.com/mcp\n');
  });
});
