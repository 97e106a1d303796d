// Alternating measurements: subject and baseline take turns (ABBA order over the rounds), so drift
// on a shared machine hits both alike; medians over rounds, and the ratio of the medians.
import { runLoad } from './load.mjs';
import { cpuMsOf, cpuMsOfTree } from './proc.mjs';

/**
 * One load run; with `job.pid` (or `job.pids`, summed), also the server's CPU milliseconds per
 * successful operation, and with `job.databasePid` the database's (its process tree).
 */
async function measured(job) {
  const pids = job.pids ?? (job.pid ? [job.pid] : []);
  const cpu = () => {
    const each = pids.map(cpuMsOf);
    return each.length && each.every((x) => x !== null) ? each.reduce((a, b) => a + b, 0) : null;
  };
  const dbCpu = () => (job.databasePid ? cpuMsOfTree(job.databasePid) : null);
  const before = cpu();
  const dbBefore = dbCpu();
  const res = await runLoad(job);
  const after = cpu();
  const dbAfter = dbCpu();
  res.cpuMsPerOp = before !== null && after !== null && res.ok > 0 ? (after - before) / res.ok : null;
  if (dbBefore !== null && dbAfter !== null && res.ok > 0) res.dbCpuMsPerOp = (dbAfter - dbBefore) / res.ok;
  return res;
}

export const median = (values) => {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
};

export const percentile = (values, p) => {
  const xs = [...values].sort((a, b) => a - b);
  if (xs.length === 0) return null;
  return xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
};

const round1 = (x) => (x === null ? null : Math.round(x * 10) / 10);
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

/**
 * targets: [{ key, label, job: async (duration) => loadJob }], the first is the subject.
 * Returns { [key]: { label, opsPerSec, p50, p99, failed, runs } }.
 */
export async function alternate(settings, targets, log) {
  if (settings.warmup > 0) {
    for (const t of targets) await runLoad(await t.job(settings.warmup));
  }
  const runs = Object.fromEntries(targets.map((t) => [t.key, []]));
  for (let r = 0; r < settings.rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const res = await measured(await t.job(settings.duration));
      if (res.failed > 0) log(`  ${t.label}: ${res.failed} failed (${res.samples.join(' | ')})`);
      runs[t.key].push(res);
      const cpu = res.cpuMsPerOp === null ? '' : `, ${res.cpuMsPerOp.toFixed(2)} CPU ms/op`;
      log(`  round ${r + 1} ${t.label}: ${res.opsPerSec.toFixed(1)}/s p99 ${res.latency.p99} ms${cpu}`);
    }
  }
  return Object.fromEntries(
    targets.map((t) => {
      const rs = runs[t.key];
      return [
        t.key,
        {
          label: t.label,
          opsPerSec: round1(median(rs.map((x) => x.opsPerSec))),
          p50: median(rs.map((x) => x.latency.p50)),
          p99: median(rs.map((x) => x.latency.p99)),
          cpuMsPerOp: round3(median(rs.map((x) => x.cpuMsPerOp))),
          ...(rs.some((x) => x.dbCpuMsPerOp !== undefined) && {
            dbCpuMsPerOp: round3(median(rs.map((x) => x.dbCpuMsPerOp))),
          }),
          failed: rs.reduce((n, x) => n + x.failed, 0),
          runs: rs.map((x) => ({
            opsPerSec: round1(x.opsPerSec),
            p50: x.latency.p50,
            p99: x.latency.p99,
            ok: x.ok,
            cpuMsPerOp: x.cpuMsPerOp === null ? null : round3(x.cpuMsPerOp),
            ...(x.dbCpuMsPerOp !== undefined && { dbCpuMsPerOp: round3(x.dbCpuMsPerOp) }),
          })),
        },
      ];
    }),
  );
}

/**
 * subject / baseline throughput: the median of the per-round ratios (each round runs the two back
 * to back, so a slow patch on the shared machine mostly hits both), or null when either is missing.
 */
export function ratio(subject, baseline) {
  if (!subject?.runs?.length || !baseline?.runs?.length) return null;
  const pairs = subject.runs.map((s, i) => {
    const b = baseline.runs[i]?.opsPerSec;
    return b ? s.opsPerSec / b : null;
  });
  return round3(median(pairs));
}

/**
 * The same comparison by CPU cost: baseline CPU per operation / subject CPU per operation, per
 * round, median. Much less sensitive to other load on the machine than throughput.
 */
export function cpuRatio(subject, baseline) {
  if (!subject?.runs?.length || !baseline?.runs?.length) return null;
  const pairs = subject.runs.map((s, i) => {
    const b = baseline.runs[i]?.cpuMsPerOp;
    return b && s.cpuMsPerOp ? b / s.cpuMsPerOp : null;
  });
  return round3(median(pairs));
}

/** The other way to state it: ratio of the medians. */
export function ratioOfMedians(subject, baseline) {
  if (!subject?.opsPerSec || !baseline?.opsPerSec) return null;
  return round3(subject.opsPerSec / baseline.opsPerSec);
}

/** The three comparisons every subject-vs-baseline scenario reports. */
export function ratios(subject, baseline) {
  return {
    ratio: ratio(subject, baseline),
    ratioOfMedians: ratioOfMedians(subject, baseline),
    cpuRatio: cpuRatio(subject, baseline),
  };
}
