// SIGTERM drains: the real `serve` entry point in a child process stops accepting connections,
// ends revocation streams, lets a login POST that is still arriving finish (and commit), then
// closes the database (WAL checkpointed) and exits 0. In process: a request that never completes
// is cut off after the drain timeout, and close() still closes the database.
import { existsSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/app/server.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';
import { testEngine } from '../support/postgres.js';
import { openTestStorage } from '../support/storage.js';
import { waitFor } from '../support/wait.js';
import { freePort, spawnServer } from './support/child_server.js';
import { basic, seedDataDir, USER } from './support/seed.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Sends `head` on a raw socket and resolves with the socket; the rest of the body comes later. */
async function openRaw(port: number, head: string): Promise<{ socket: Socket; response: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    data += chunk;
  });
  const response = new Promise<string>((resolve) => {
    socket.once('close', () => resolve(data));
    socket.once('error', () => resolve(data));
  });
  socket.write(head);
  return { socket, response };
}

describe('SIGTERM', () => {
  it('drains a login in flight, ends revocation streams, closes the database and exits 0', async () => {
    const seeded = await seedDataDir();
    dirs.push(seeded.dataDir);
    const child = await spawnServer(seeded.dataDir, await freePort());
    try {
      // A resource server following the revocation stream.
      const stream = await fetch(`${child.url}/revocations/stream`, { headers: { authorization: basic(seeded.feed) } });
      expect(stream.status).toBe(200);
      const reader = stream.body?.getReader();
      if (!reader) throw new Error('no stream body');
      await reader.read(); // the `retry:` preamble: the stream is open

      // A browser signing in: the page's CSRF token and cookie, then a POST whose body is still
      // on its way when SIGTERM arrives.
      const page = await fetch(`${child.url}/account/login`, { headers: { accept: 'text/html' } });
      const html = await page.text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const cookie = page.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      expect(csrf).not.toBe('');
      const body = new URLSearchParams({ csrf, username: USER.username, password: USER.password, next: '' }).toString();
      const half = Math.floor(body.length / 2);
      const { socket, response } = await openRaw(
        child.port,
        [
          'POST /account/login HTTP/1.1',
          `Host: 127.0.0.1:${child.port}`,
          'Content-Type: application/x-www-form-urlencoded',
          'Accept: text/html',
          `Cookie: ${cookie}`,
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body.slice(0, half),
        ].join('\r\n'),
      );
      // The server has the request once its headers are parsed; an unrelated request on another
      // connection finishing proves the first one has been dispatched, as requests are handled in order.
      await fetch(`${child.url}/.well-known/oauth-authorization-server`);

      child.proc.kill('SIGTERM');
      await waitFor(() => child.logs.some((l) => l.event === 'shutdown.draining'), 'the drain to start', {
        timeoutMs: 30_000,
      });
      expect(child.logs.find((l) => l.event === 'shutdown.draining')).toMatchObject({ requests: 1 });

      // The stream was ended cleanly (not reset), so its subscriber simply reconnects.
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
      }
      // No new connections while draining.
      await expect(fetch(`${child.url}/.well-known/oauth-authorization-server`)).rejects.toThrow();

      socket.write(body.slice(half));
      const raw = await response;
      expect(raw).toMatch(/^HTTP\/1\.1 303 /);
      expect(raw).toMatch(/\r\nconnection: close\r\n/i);
      expect(raw).toMatch(/\r\nset-cookie: [^\r\n]+/i);

      const exit = await child.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      // Nothing on stderr but oidc-provider's notice on a Node older than it supports (Node 20).
      expect(child.stderr().replace(/^oidc-provider WARNING: Unsupported runtime\..*\n?/m, '')).toBe('');
      expect(child.logs.some((l) => l.event === 'shutdown.complete')).toBe(true);
    } finally {
      child.proc.kill('SIGKILL');
    }

    if (testEngine() === 'postgres') {
      // The server's connections (pool and listener) were closed, and the drained login committed.
      const { sql } = await openTestStorage(seeded.dataDir);
      try {
        const others =
          'SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()';
        await waitFor(async () => (await sql.get<{ n: number }>(others))?.n === 0, 'the server to disconnect');
        const logins = await sql.get("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.success'");
        expect(logins).toEqual({ n: 1 });
      } finally {
        await sql.close();
      }
      return;
    }
    // SQLite from here (WAL, integrity_check): read the file with better-sqlite3 itself.
    // Closed cleanly: the WAL was checkpointed into the main file and removed.
    expect(existsSync(`${seeded.databaseFile}-wal`)).toBe(false);
    const db = new Database(seeded.databaseFile, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      // The drained login was committed, not lost.
      const logins = db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.success'").get();
      expect(logins).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });
});

describe('close() in process', () => {
  it('cuts off a request that never completes after the drain timeout and still closes the database', async () => {
    const seeded = await seedDataDir();
    dirs.push(seeded.dataDir);
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const config = loadConfig({
      MCP_OAUTH_DATA_DIR: seeded.dataDir,
      MCP_OAUTH_PORT: String(await freePort()),
      MCP_OAUTH_SHUTDOWN_TIMEOUT: '1',
    });
    const server = await startServer(config, { logger: createLogger('info', sink) });
    const port = Number(new URL(server.url).port);
    // Promises a body it never sends.
    const { response } = await openRaw(
      port,
      'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=',
    );
    await fetch(`${server.url}/.well-known/oauth-authorization-server`);

    await server.close();
    expect(lines.find((l) => l.event === 'shutdown.draining')).toMatchObject({ requests: 1 });
    expect(lines.find((l) => l.event === 'shutdown.drain_timeout')).toMatchObject({ requests: 1 });
    expect(lines.at(-1)).toMatchObject({ event: 'shutdown.complete' });
    expect(await response).toBe(''); // the connection was closed without an answer
    expect(existsSync(`${seeded.databaseFile}-wal`)).toBe(false);
  });

  it('with nothing in flight closes at once', async () => {
    const seeded = await seedDataDir();
    dirs.push(seeded.dataDir);
    const config = loadConfig({ MCP_OAUTH_DATA_DIR: seeded.dataDir, MCP_OAUTH_PORT: String(await freePort()) });
    const server = await startServer(config, { logger: createLogger('silent'), drainTimeoutMs: 60_000 });
    // A kept-alive idle connection must not hold the shutdown up.
    const res = await fetch(`${server.url}/jwks`);
    expect(res.status).toBe(200);
    await res.text();
    await server.close();
    await expect(fetch(`${server.url}/jwks`)).rejects.toThrow();
  });
});
