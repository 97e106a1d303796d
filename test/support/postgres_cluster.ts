// The cluster behind test/support/postgres.ts, run in vitest's main process (vitest.config.ts
// `globalSetup`): it starts no cluster by itself, only when a test file asks (see postgres.ts).
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';

const run = promisify(execFile);
/** The database every test database is copied from: every migration already applied. */
export const TEMPLATE = 'mcp_oauth_template';
export const PROVIDED = 'mcpOauthPostgresControl';

/** PG_BIN (only it, when set), else the newest /usr/lib/postgresql/N/bin (Debian), else initdb on PATH. */
export function findPgBin(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BIN) {
    const bin = process.env.PG_BIN;
    return existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl')) ? bin : undefined;
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(debian, v, 'bin')));
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(dir);
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}

async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

interface Running {
  adminUrl: string;
  stop(): Promise<void>;
}

async function startCluster(): Promise<Running> {
  const bin = findPgBin();
  if (!bin)
    throw new Error(
      process.env.PG_BIN
        ? `PG_BIN=${process.env.PG_BIN} has no initdb and pg_ctl`
        : 'PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH; or set PG_BIN)',
    );
  const root = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-pg-'));
  const data = path.join(root, 'data');
  const sockets = path.join(root, 'sockets');
  mkdirSync(sockets);
  // initdb and postgres refuse to run as root: the cluster belongs to `nobody` then.
  let asUser: string[] = [];
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    chownSync(root, uid, gid);
    chownSync(sockets, uid, gid);
    asUser = ['runuser', '-u', 'nobody', '--'];
  }
  const exec = (tool: string, args: string[]) => {
    const [cmd, ...rest] = [...asUser, path.join(bin, tool), ...args] as [string, ...string[]];
    return run(cmd, rest, { cwd: root, timeout: 120_000 });
  };
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  } catch (err) {
    remove();
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const options = [
      `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${sockets}`,
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400',
    ].join(' ');
    try {
      await exec('pg_ctl', [
        '-D',
        data,
        '-l',
        path.join(root, 'postgres.log'),
        '-w',
        '-t',
        '60',
        '-o',
        options,
        'start',
      ]);
      break;
    } catch (err) {
      // Another process may have taken the free port in between: try another once or twice.
      if (attempt < 2) continue;
      const log = existsSync(path.join(root, 'postgres.log'))
        ? readFileSync(path.join(root, 'postgres.log'), 'utf8')
        : '';
      remove();
      throw new Error(`PostgreSQL did not start: ${(err as Error).message.split('\n')[0]} ${log.slice(-500)}`);
    }
  }
  const stop = async () => {
    await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    remove();
  };
  try {
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${TEMPLATE}`);
    } finally {
      await admin.end();
    }
    const template = postgresEngine({ url: `postgres://postgres@127.0.0.1:${port}/${TEMPLATE}`, poolSize: 1 });
    try {
      await migrate(template);
    } finally {
      await template.close();
    }
    return { adminUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * vitest globalSetup: a loopback endpoint that starts the cluster on the first request and gives
 * every later one the same answer; the teardown stops the cluster if it was started.
 */
export default async function setup(project: { provide(key: typeof PROVIDED, value: string): void }) {
  let cluster: Promise<Running> | undefined;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/cluster') {
      res.writeHead(404).end();
      return;
    }
    cluster ??= startCluster();
    cluster.then(
      (c) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: c.adminUrl })),
      (err: Error) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: err.message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  project.provide(PROVIDED, `http://127.0.0.1:${(server.address() as AddressInfo).port}/cluster`);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const started = await cluster?.catch(() => undefined);
    await started?.stop();
  };
}
