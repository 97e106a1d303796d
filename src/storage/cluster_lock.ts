// Work that one node of a cluster does for all of them: the purge of expired rows, creating the
// first signing key. On PostgreSQL a transaction-scoped advisory lock names the job; it is released
// at commit or rollback, also when the node holding it dies (its connection goes), so a job is never
// stuck. SQLite serves one node (its write transactions already exclude the CLI's).
import type { Sql } from './engine.js';

/** Advisory lock keys (any fixed numbers; the migration runner uses its own). */
export const CLUSTER_JOBS = {
  purge: 4_177_310_002,
  signingKeys: 4_177_310_003,
} as const;

export type ClusterJob = keyof typeof CLUSTER_JOBS;

/**
 * Runs `work` if no other node is running the same job right now (on PostgreSQL in one transaction
 * holding the job's lock); returns undefined (and runs nothing) when one is. For periodic jobs, where the node that lost simply
 * waits for its next turn.
 */
export async function unlessRunningElsewhere<T>(
  sql: Sql,
  job: ClusterJob,
  work: () => Promise<T>,
): Promise<T | undefined> {
  // One node: nothing else runs it. No transaction around it either, so a long job does not hold
  // SQLite's write lock for its whole length.
  if (sql.kind !== 'postgres') return work();
  return sql.transaction(async () => {
    const got = await sql.get<{ ok: number }>('SELECT CASE WHEN pg_try_advisory_xact_lock(?) THEN 1 ELSE 0 END AS ok', [
      CLUSTER_JOBS[job],
    ]);
    if (Number(got?.ok) !== 1) return undefined;
    return work();
  });
}

/**
 * Runs `work` in one transaction once every other node running the same job has finished (they
 * queue). For jobs whose outcome every node needs, such as "make the first key unless one exists":
 * the second node then finds what the first one made.
 */
export async function oneNodeAtATime<T>(sql: Sql, job: ClusterJob, work: () => Promise<T>): Promise<T> {
  if (sql.kind !== 'postgres') return sql.transaction(work);
  return sql.transaction(async () => {
    await sql.get('SELECT pg_advisory_xact_lock(?)', [CLUSTER_JOBS[job]]);
    return work();
  });
}
