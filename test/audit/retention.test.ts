import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/app/server.js';
import { createAudit } from '../../src/audit/index.js';
import { truncatedUsername } from '../../src/audit/login_failure.js';
import { parseSince, pruneAudit, queryAudit } from '../../src/audit/query.js';
import { loadConfig } from '../../src/config/index.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import type { Sql } from '../../src/storage/engine.js';
import { databaseEnv, openTestStorage, type TestStorage } from '../support/storage.js';

const DAY = 86400;
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function tempDb(): Promise<TestStorage & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-retention-'));
  dirs.push(dataDir);
  return { ...(await openTestStorage(dataDir)), dataDir };
}

async function seedAt(sql: Sql, ages: number[], now = NOW): Promise<void> {
  let at = 0;
  const audit = createAudit(sql, createLogger('silent'), { now: () => at });
  for (const age of ages) {
    at = now - age;
    await audit.record({ event: 'login.success', result: 'success', details: { age } });
  }
}

describe('pruneAudit', () => {
  it('deletes exactly the rows older than the retention', async () => {
    const { sql, close } = await tempDb();
    await seedAt(sql, [91 * DAY, 90 * DAY + 1, 90 * DAY, 89 * DAY, 0]);
    expect(await pruneAudit(sql, NOW, 90 * DAY)).toBe(2);
    expect((await queryAudit(sql)).map((r) => r.details?.age)).toEqual([0, 89 * DAY, 90 * DAY]);
    expect(await pruneAudit(sql, NOW, 90 * DAY)).toBe(0);
    await close();
  });
});

describe('MCP_OAUTH_AUDIT_RETENTION', () => {
  it.each([
    [undefined, 90 * DAY],
    ['1d', DAY],
    ['86400', DAY],
    ['400d', 400 * DAY],
  ])('%s → %i seconds', (value, seconds) => {
    const env = value === undefined ? {} : { MCP_OAUTH_AUDIT_RETENTION: value };
    expect(loadConfig(env).auditRetention).toBe(seconds);
  });

  it.each([['23h'], ['0'], ['forever'], ['3651d']])('refuses %s', (value) => {
    expect(() => loadConfig({ MCP_OAUTH_AUDIT_RETENTION: value })).toThrow(/^MCP_OAUTH_AUDIT_RETENTION must /);
  });
});

describe('the server purge timer', () => {
  it('prunes old audit rows and expired feed entries when it starts', async () => {
    const { sql, close, dataDir } = await tempDb();
    const now = epochSeconds();
    await seedAt(sql, [8 * DAY, 6 * DAY], now);
    await sql.run(
      "INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES ('grant', 'g-old', ?, ?, ?)",
      [now - 600, now - 600, now - 1],
    );
    await sql.run(
      "INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES ('grant', 'g-live', ?, ?, ?)",
      [now, now, now + 600],
    );
    const port = await freePort();
    const config = loadConfig({
      MCP_OAUTH_PORT: String(port),
      MCP_OAUTH_DATA_DIR: dataDir,
      ...databaseEnv(dataDir),
      MCP_OAUTH_AUDIT_RETENTION: '7d',
    });
    const lines: string[] = [];
    const server = await startServer(config, { logger: createLogger('info', { write: (l: string) => lines.push(l) }) });
    await server.close();
    expect((await queryAudit(sql)).map((r) => r.details?.age)).toEqual([6 * DAY]);
    expect(await sql.all('SELECT subject FROM revocations')).toEqual([{ subject: 'g-live' }]);
    const purge = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'purge');
    expect(purge).toMatchObject({ auditEvents: 1, feedEntries: 1 });
    await close();
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('parseSince', () => {
  it.each([
    ['30s', NOW - 30],
    ['15m', NOW - 900],
    ['1h', NOW - 3600],
    ['2d', NOW - 2 * DAY],
    ['1w', NOW - 7 * DAY],
    ['1767139200', 1_767_139_200],
    ['2025-12-31', 1_767_139_200],
    ['2025-12-31T12:00:00Z', 1_767_182_400],
    ['2025-12-31T13:00:00+01:00', 1_767_182_400],
  ])('%s', (raw, expected) => {
    expect(parseSince(raw, NOW)).toBe(expected);
  });

  it.each([['yesterday'], ['-1h'], ['1y'], [''], ['2025-13-45'], ['1h ago']])('refuses %j', (raw) => {
    expect(parseSince(raw, NOW)).toBeUndefined();
  });
});

describe('queryAudit', () => {
  it('pages with beforeId and filters by grant, resource and result', async () => {
    const { sql, close } = await tempDb();
    const audit = createAudit(sql, createLogger('silent'), { now: () => NOW });
    await audit.record({ event: 'token.issued', result: 'success', grantId: 'g1', resource: 'https://a.example/mcp' });
    await audit.record({ event: 'token.issued', result: 'success', grantId: 'g2', resource: 'https://b.example/mcp' });
    await audit.record({ event: 'code.replay_detected', result: 'failure', grantId: 'g2' });
    const page1 = await queryAudit(sql, { limit: 2 });
    expect(page1.map((r) => r.id)).toEqual([3, 2]);
    expect((await queryAudit(sql, { beforeId: page1.at(-1)?.id })).map((r) => r.id)).toEqual([1]);
    expect((await queryAudit(sql, { grantId: 'g2' })).map((r) => r.id)).toEqual([3, 2]);
    expect((await queryAudit(sql, { resource: 'https://a.example/mcp' })).map((r) => r.id)).toEqual([1]);
    expect((await queryAudit(sql, { result: 'failure' })).map((r) => r.event)).toEqual(['code.replay_detected']);
    // '_' and '%' are literal in an event filter.
    expect(await queryAudit(sql, { event: 'code%' })).toEqual([]);
    expect(await queryAudit(sql, { event: 'token_issued' })).toEqual([]);
    await close();
  });

  it('clips long text so a registrant cannot bloat the trail', async () => {
    const { sql, close } = await tempDb();
    await createAudit(sql, createLogger('silent')).record({
      event: 'client.registered',
      result: 'success',
      clientId: 'c',
      userAgent: 'x'.repeat(5000),
      details: { name: 'n'.repeat(5000) },
    });
    const [row] = await queryAudit(sql);
    expect(row?.userAgent).toHaveLength(300);
    expect(row?.details?.name).toHaveLength(300);
    await close();
  });
});

describe('truncatedUsername', () => {
  it.each([
    ['root', 'root'],
    ['admin', 'admi…'],
    ['correct horse battery', 'corr…'],
    ['éèêëà', 'éèêë…'],
  ])('%s → %s', (input, expected) => {
    expect(truncatedUsername(input)).toBe(expected);
  });
});
