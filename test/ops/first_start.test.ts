// `mcp-oauth serve` on a fresh database says what to do next (first admin, first MCP server, where
// the pages are) and says nothing once that is done. The real server is started through the CLI.
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { firstStartSteps, firstStartText } from '../../src/ops/first_start.js';
import { cliFor } from '../support/cli.js';

const ISSUER = 'http://127.0.0.1:4000';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `serve` until it has logged that it listens, then stops it with SIGTERM; returns stdout. */
async function serveOnce(cli: ReturnType<typeof cliFor>, stdout?: Writable & { isTTY?: boolean }): Promise<string> {
  const port = await freePort();
  const before = process.listenerCount('SIGTERM');
  let out = '';
  const sink =
    stdout ??
    new Writable({
      write(chunk, _enc, done) {
        out += chunk;
        done();
      },
    });
  const { runCli } = await import('../../src/cli/index.js');
  const running = runCli(['serve'], {
    env: { ...(await cli.environment()), MCP_OAUTH_PORT: String(port), MCP_OAUTH_LOG_LEVEL: 'info' },
    stdin: process.stdin,
    stdout: sink,
    stderr: {
      write: (s) => {
        out += s;
      },
    },
  });
  await vi.waitFor(() => expect(process.listenerCount('SIGTERM')).toBe(before + 1), { timeout: 20_000 });
  process.emit('SIGTERM', 'SIGTERM');
  expect(await running).toBe(0);
  return out;
}

describe('first-start steps', () => {
  it.each([
    [{ hasAdmin: false, hasResource: false }, ['users add admin --admin', 'resources add', '/admin', '/.well-known']],
    [{ hasAdmin: true, hasResource: false }, ['resources add', '/admin']],
    [{ hasAdmin: false, hasResource: true }, ['users add admin --admin', '/admin']],
  ])('%j → the missing steps and where the pages are', (state, expected) => {
    const text = firstStartSteps(state, ISSUER).join('\n');
    for (const piece of expected) expect(text).toContain(piece);
    if (state.hasAdmin) expect(text).not.toContain('users add');
    if (state.hasResource) expect(text).not.toContain('resources add');
    expect(text).toContain(`${ISSUER}/account`);
  });

  it('says nothing once an admin and an MCP server exist', () => {
    expect(firstStartSteps({ hasAdmin: true, hasResource: true }, ISSUER)).toEqual([]);
  });

  it('puts each command on its own line for copying', () => {
    const text = firstStartText(firstStartSteps({ hasAdmin: false, hasResource: false }, ISSUER));
    expect(text).toMatch(/^ {7}mcp-oauth users add admin --admin$/m);
    expect(text).toMatch(/^ {7}mcp-oauth resources add https:\/\/mcp\.example\.com\/mcp --name "My MCP server"$/m);
    expect(text.split('\n').length).toBeLessThan(12);
  });
});

describe('mcp-oauth serve on a first start', () => {
  it('logs the next steps as one JSON line, and nothing once set up', async () => {
    const cli = cliFor();
    const first = (await serveOnce(cli))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const hint = first.find((l) => l.event === 'first_start');
    expect(hint).toBeDefined();
    const steps = ((hint?.next_steps ?? []) as string[]).join('\n');
    expect(steps).toContain('mcp-oauth users add admin --admin');
    expect(steps).toContain('mcp-oauth resources add https://mcp.example.com/mcp');
    expect(steps).toMatch(/http:\/\/127\.0\.0\.1:\d+\/admin/);

    expect((await cli.run(['users', 'add', 'root', '--admin'], { stdin: 'correct horse battery\n' })).code).toBe(0);
    expect((await cli.run(['resources', 'add', 'https://mcp.example.com/mcp', '--name', 'Orders'])).code).toBe(0);
    const second = await serveOnce(cli);
    expect(second).not.toContain('first_start');
    expect(second).toContain('authorization server listening');
  });

  it('prints plain text, and pretty logs, on a terminal', async () => {
    const cli = cliFor();
    let out = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, done) {
          out += chunk;
          done();
        },
      }),
      { isTTY: true },
    );
    await serveOnce(cli, tty);
    expect(out).toContain('Nothing is set up yet. Next steps:');
    expect(out).toMatch(/^ {7}mcp-oauth users add admin --admin$/m);
    // pino-pretty, not JSON: "HH:MM:ss.l INFO: authorization server listening"
    expect(out).toMatch(/INFO.*authorization server listening/);
    expect(out).not.toMatch(/^\{"level"/m);
  });
});
