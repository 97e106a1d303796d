// A throwaway PostgreSQL for the cluster scenario: initdb in a temp dir, the server on 127.0.0.1 on
// a free port with its socket in the same dir, trust authentication (nothing but this machine's
// loopback reaches it), removed at the end. initdb refuses to run as root, so as root the cluster
// runs as `nobody` (spawned with its uid: signals then reach the server itself). The binaries come from PG_BIN or Debian's /usr/lib/postgresql/<version>/bin.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './proc.mjs';

/** Where initdb and postgres are, or null when PostgreSQL is not installed. */
export function postgresBin() {
  if (process.env.PG_BIN) return existsSync(path.join(process.env.PG_BIN, 'initdb')) ? process.env.PG_BIN : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

const running = new Set();

/** Stops every cluster this process started (an interrupted run). */
export function stopAllPostgres() {
  for (const pg of running) pg.kill();
}

/** Starts a cluster; resolves to { url(db), createDatabase(name), stop() }. */
export async function startPostgres() {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL not found (set PG_BIN or install Debian postgresql)');
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = asRoot ? { uid: 65534, gid: 65534 } : {};
  if (asRoot) chownSync(dir, 65534, 65534);
  const data = path.join(dir, 'data');
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    { encoding: 'utf8', ...as },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const child = spawn(
    path.join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    { stdio: ['ignore', 'ignore', 'pipe'], ...as },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stopping = false;
  // A database that goes away mid-run shows up as connection errors in every server; say why.
  child.once('exit', (code, signal) => {
    if (!stopping)
      process.stderr.write(`postgres exited (${signal ?? code}) before it was stopped: ${stderr.slice(-2000)}\n`);
  });
  const pg = {
    kill() {
      stopping = true;
      child.kill('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(pg);
  const psql = (sql) =>
    spawnSync(
      path.join(bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', sql],
      {
        encoding: 'utf8',
      },
    );
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited: ${stderr}`);
    if (psql('SELECT 1').status === 0) break;
    if (Date.now() > deadline) {
      pg.kill();
      throw new Error(`postgres did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    /** The postmaster's pid: it and its backends are the database's CPU (cpuMsOfTree). */
    pid: child.pid,
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    createDatabase(name) {
      const made = psql(`CREATE DATABASE ${name}`);
      if (made.status !== 0) throw new Error(`CREATE DATABASE failed: ${made.stderr}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      stopping = true;
      child.kill('SIGINT');
      await exited;
      running.delete(pg);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
