// `mcp-oauth --help` and the help of every subcommand, found by walking the "Commands:" sections:
// each command has a description, each option and argument says what it is for, and the top-level
// help says how to get started.
import { describe, expect, it } from 'vitest';
import { cliFor } from '../support/cli.js';

const cli = cliFor();

async function help(path: string[]): Promise<string> {
  const result = await cli.run([...path, '--help']);
  expect(result.code).toBe(0);
  expect(result.err).toBe('');
  return result.out;
}

/** Entries of a section ("Options:", "Commands:", "Arguments:") as [term, description]. */
function section(text: string, title: string): [string, string][] {
  const start = text.indexOf(`\n${title}\n`);
  if (start < 0) return [];
  const entries: [string, string][] = [];
  for (const line of text.slice(start + title.length + 2).split('\n')) {
    if (!line.startsWith('  ')) break;
    const entry = /^ {2}(\S(?:.*?\S)?)(?: {2,}(\S.*))?$/.exec(line);
    if (entry?.[1] !== undefined) entries.push([entry[1], entry[2] ?? '']);
    else {
      // A wrapped description continues the previous entry.
      const last = entries.at(-1);
      if (last) last[1] += ` ${line.trim()}`;
    }
  }
  return entries;
}

async function allCommands(path: string[] = []): Promise<{ path: string[]; text: string }[]> {
  const text = await help(path);
  const found = [{ path, text }];
  for (const [term] of section(text, 'Commands:')) {
    const name = term.split(' ')[0] ?? '';
    if (name === 'help') continue;
    found.push(...(await allCommands([...path, name])));
  }
  return found;
}

describe('help', () => {
  it('describes every command, option and argument', async () => {
    const commands = await allCommands();
    const names = commands.map((c) => c.path.join(' '));
    // The commands the README documents are all there.
    for (const expected of ['serve', 'users add', 'resources add', 'clients list', 'grants revoke', 'keys rotate']) {
      expect(names).toContain(expected);
    }
    expect(names).toEqual(expect.arrayContaining(['backup', 'audit', 'migrate', 'purge', 'admin-tokens create']));
    for (const { path, text } of commands) {
      const where = `mcp-oauth ${path.join(' ')}`;
      const lines = text.split('\n');
      expect(lines[0], where).toMatch(/^Usage: mcp-oauth/);
      // Line 3 is the description.
      expect(lines[2]?.trim().length ?? 0, `${where}: description`).toBeGreaterThanOrEqual(10);
      for (const [title, min] of [
        ['Options:', 3],
        ['Commands:', 8],
        ['Arguments:', 8],
      ] as const) {
        for (const [term, description] of section(text, title)) {
          expect(description.length, `${where}: ${term}`).toBeGreaterThanOrEqual(min);
          expect(description, `${where}: ${term}`).not.toContain('(default: [])');
        }
      }
      // Every <arg> and [arg] in the usage line is described under "Arguments:".
      const usageArgs = [...(lines[0] ?? '').matchAll(/[<[]([a-z_]+)(?:\.\.\.)?[>\]]/g)]
        .map((m) => m[1])
        .filter((a) => a !== 'options' && a !== 'command');
      const described = section(text, 'Arguments:').map(([term]) => term);
      for (const arg of usageArgs) expect(described, `${where}: argument ${arg}`).toContain(arg);
    }
  });

  it('says how to get started at the top level', async () => {
    const text = await help([]);
    expect(text).toContain('mcp-oauth users add admin --admin');
    expect(text).toContain('mcp-oauth resources add https://mcp.example.com/mcp');
    expect(text).toContain('MCP_OAUTH_');
    const bare = await cli.run(['help']);
    expect(bare.out).toBe(text);
  });

  it('lists the main environment variables and the probes in serve --help', async () => {
    const text = await help(['serve']);
    for (const name of [
      'MCP_OAUTH_ISSUER',
      'MCP_OAUTH_DATA_DIR',
      'MCP_OAUTH_LOG_LEVEL',
      'MCP_OAUTH_METRICS_TOKEN',
      '/readyz',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('documents backup --force', async () => {
    const text = await help(['backup']);
    expect(section(text, 'Options:').map(([t]) => t)).toContain('--force');
    expect(text).toContain('Backups');
  });
});
