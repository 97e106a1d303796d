// Runs one load measurement in a fresh load-generator process (bench/lib/load_worker.mjs), so the
// load never shares a thread with the server under test or with this orchestrator.
import { fork } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR } from './proc.mjs';

/**
 * job: { kind, url, connections, duration (s) | amount, data }.
 * Resolves to { ok, failed, opsPerSec, latency: { p50, p99, mean }, ... }.
 */
export function runLoad(job) {
  const child = fork(path.join(BENCH_DIR, 'lib', 'load_worker.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.once('message', (msg) => {
      child.removeAllListeners('exit');
      child.kill();
      if (msg.type === 'result') resolve(msg);
      else reject(new Error(`load generator: ${msg.message}`));
    });
    child.send(job);
  });
}
