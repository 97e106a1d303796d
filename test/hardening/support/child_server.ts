// Runs the real `mcp-oauth serve` entry point as a child process on a given data directory, for
// tests that kill or stop it with a signal. The child runs the compiled build (dist/), brought up
// to date first by the same script `npm start` uses, so it works on every Node the suite supports.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseEnv } from '../../support/storage.js';
import { WaitTimeoutError, waitFor } from '../../support/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(ROOT, 'dist/src/main.js');

let built = false;
/** Compiles src/ into dist/ when dist is missing or older than the sources (once per test file). */
function buildIfNeeded(): void {
  if (built) return;
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-if-needed.mjs')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`build failed: ${run.stdout}${run.stderr}`);
  built = true;
}

export interface ChildServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A port that was free a moment ago (the child binds it itself; its issuer URL names it). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * `count` ports free a moment ago and different from each other: all are held until the last is
 * found (one at a time, the system may hand the same port out again once it is released).
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes = Array.from({ length: count }, () => createServer());
  try {
    await Promise.all(probes.map((p) => new Promise<void>((resolve) => p.listen(0, '127.0.0.1', resolve))));
    return probes.map((p) => {
      const address = p.address();
      return typeof address === 'object' && address ? address.port : 0;
    });
  } finally {
    await Promise.all(probes.map((p) => new Promise<void>((resolve) => p.close(() => resolve()))));
  }
}

export async function spawnServer(
  dataDir: string,
  port: number,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<ChildServer> {
  buildIfNeeded();
  const proc = spawn(process.execPath, ['--no-warnings', MAIN, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      MCP_OAUTH_DATA_DIR: dataDir,
      MCP_OAUTH_PORT: String(port),
      MCP_OAUTH_LOG_LEVEL: 'info',
      // The database of the directory: on PostgreSQL every process on it shares one database.
      ...databaseEnv(dataDir),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const listening = () => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited before listening: ${err.slice(0, 2000)}`);
    }
    return logs.some((l) => l.msg === 'authorization server listening');
  };
  try {
    await waitFor(listening, 'the child server to log that it listens', { timeoutMs, intervalMs: 20 });
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    proc.kill('SIGKILL');
    throw new Error(`${e.message}: ${err.slice(0, 2000)}`);
  }
  return { url: `http://127.0.0.1:${port}`, port, proc, logs, stderr: () => err, exited };
}
