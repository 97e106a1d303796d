import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/index.js';
import type { Logger } from '../../src/log/logger.js';
import { cliFor, databaseFile, tempDataDir } from '../support/cli.js';

const server = vi.hoisted(() => ({
  started: [] as { config: Config; logger: Logger | undefined }[],
  closed: 0,
}));

vi.mock('../../src/app/server.js', () => ({
  async startServer(config: Config, opts: { logger?: Logger } = {}) {
    server.started.push({ config, logger: opts.logger });
    return {
      url: `http://127.0.0.1:${config.port}`,
      async close() {
        server.closed += 1;
      },
    };
  },
}));

describe('serve', () => {
  it.each([['SIGTERM'], ['SIGINT']] as const)(
    'starts the server with the config and closes it on %s',
    async (signal) => {
      server.started.length = 0;
      server.closed = 0;
      const before = process.listenerCount(signal);
      // No database yet: the real server creates it (this one is a stand-in) and says where.
      const cli = cliFor(tempDataDir());
      const running = cli.run(['serve'], { env: { MCP_OAUTH_PORT: '4123', MCP_OAUTH_LOG_LEVEL: 'info' } });
      await vi.waitFor(() => expect(process.listenerCount(signal)).toBe(before + 1), { timeout: 5000 });
      expect(server.started).toHaveLength(1);
      expect(server.started[0]?.config.port).toBe(4123);
      expect(server.started[0]?.config.dataDir).toBe(cli.dataDir);
      expect(server.closed).toBe(0);

      process.emit(signal, signal);
      const result = await running;
      expect(result.code).toBe(0);
      expect(result.err).toBe('');
      expect(server.closed).toBe(1);
      expect(process.listenerCount('SIGINT') + process.listenerCount('SIGTERM')).toBe(before * 2);
      const logged = result.out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged).toEqual([
        expect.objectContaining({ level: 30, database: databaseFile(cli.dataDir), msg: 'created a new database' }),
        expect.objectContaining({ level: 30, signal, msg: 'shutting down' }),
      ]);
    },
  );

  it('does not start on a bad configuration', async () => {
    server.started.length = 0;
    const result = await cliFor().run(['serve'], { env: { MCP_OAUTH_REGISTRATION: 'maybe' } });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^mcp-oauth: MCP_OAUTH_REGISTRATION: [^\n]+\n$/);
    expect(server.started).toHaveLength(0);
  });
});
