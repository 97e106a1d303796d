// Child processes of the benchmark: every server under test runs in its own process (and so on its
// own thread), apart from the load generator and from this orchestrator.
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
/** The compiled server. BENCH_DIST lets a development run use another build of the same tree. */
export const DIST = path.resolve(ROOT, process.env.BENCH_DIST ?? 'dist');

/** Imports a compiled module of the server, e.g. distImport('src/app/server.js'). */
export function distImport(rel) {
  return import(path.join(DIST, rel));
}

/** A free port on 127.0.0.1 (for servers whose configuration needs the port before they start). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resident memory of a process in bytes (Linux /proc), or null when it cannot be read. */
export function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system, ms) a process has used so far (Linux /proc; ticks of 10 ms), or null.
 * Throughput on a shared machine depends on how much CPU the server was given; CPU time per
 * operation is what the server's code costs, whoever else runs.
 */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}
const CLK_TCK = 100;

/**
 * CPU ms of a process and its direct children (a PostgreSQL postmaster and its backends), or null.
 * A backend that exits between two readings takes its CPU time with it: the pool's connections
 * stay open during a run, so the difference of two readings is the run's.
 */
export function cpuMsOfTree(pid) {
  const own = cpuMsOf(pid);
  if (own === null) return null;
  let total = own;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 of proc(5), the parent's pid, is the second after the command name.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuMsOf(Number(entry)) ?? 0;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/**
 * Forks `script` (relative to bench/) and waits for its `{ type: 'ready', ... }` message.
 * Resolves to { pid, info, rss(), stop() }.
 */
export async function startChild(script, { env = {}, execArgv = [], args = [], timeoutMs = 60_000 } = {}) {
  const child = fork(path.join(BENCH_DIR, script), args, {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
    child.on('message', (msg) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        resolve(msg);
      } else if (msg?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${script}: ${msg.message}`));
      }
    });
  });
  child.removeAllListeners('exit');
  let exited = false;
  const gone = new Promise((resolve) => child.once('exit', () => resolve()));
  gone.then(() => {
    exited = true;
  });
  return {
    pid: child.pid,
    info,
    rss: () => rssOf(child.pid),
    /** Asks the child to finish (SIGTERM lets --cpu-prof write its profile); kills it after 10 s. */
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Used by the child scripts: report readiness, and exit cleanly on SIGTERM or when the parent goes. */
export function childReady(info, close) {
  let closing = false;
  const finish = async () => {
    if (closing) return;
    closing = true;
    try {
      await close?.();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  process.on('disconnect', finish);
  process.send?.({ type: 'ready', ...info });
}

/** Used by the child scripts: report a start-up failure to the parent and exit. */
export function childFailed(err) {
  process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  console.error(err);
  process.exit(1);
}
