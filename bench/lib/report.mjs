// The table printed at the end of a run (and pasted into BENCHMARKS.md).

export const fmt = (x, digits = 1) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));

function verdict(s) {
  if (s.skipped) return 'skipped';
  const checks = [];
  if (s.target?.ratio !== undefined) checks.push(s.ratio !== null && s.ratio >= s.target.ratio);
  if (s.target?.p99OverheadMs !== undefined) {
    checks.push(s.p99OverheadMs !== null && s.p99OverheadMs < s.target.p99OverheadMs);
  }
  if (s.target?.p99Ms !== undefined) checks.push(s.p99Ms !== null && s.p99Ms < s.target.p99Ms);
  if (checks.length === 0) return '';
  return checks.every(Boolean) ? 'met' : 'MISSED';
}

function targetText(t) {
  if (!t) return '';
  const parts = [];
  if (t.ratio !== undefined) parts.push(`ratio >= ${t.ratio}`);
  if (t.p99OverheadMs !== undefined) parts.push(`p99 overhead < ${t.p99OverheadMs} ms`);
  if (t.p99Ms !== undefined) parts.push(`p99 < ${t.p99Ms} ms`);
  if (t.reportOnly) parts.push('report only');
  return parts.join(', ');
}

/** Markdown table rows: one per scenario (plus reference rows for the proxy). */
export function tableRows(out) {
  const rows = [];
  for (const s of out.scenarios) {
    if (s.skipped) {
      rows.push([s.title, `skipped: ${s.skipped}`, '', '', '', targetText(s.target), 'skipped']);
      continue;
    }
    if (s.id === 'memory') {
      const m = s.server;
      rows.push([
        'Memory: authorization server',
        `${fmt(m.afterLoadMiB)} MiB after load runs (${fmt(m.atStartMiB)} MiB at start)`,
        `${fmt(m.afterRegistrationsMiB)} MiB after ${m.registrations} registered clients`,
        '',
        m.registrationsPerSecBySteps
          ? `registrations/s: ${m.registrationsPerSecBySteps[0]} first tenth, ${m.registrationsPerSecBySteps.at(-1)} last tenth; ${fmt(m.cpuMsPerRegistration, 2)} CPU ms each`
          : '',
        'report only',
        '',
      ]);
      continue;
    }
    if (s.id === 'revocation' || s.id === 'revocation_cluster') {
      rows.push([
        s.title,
        `p50 ${fmt(s.p50Ms)} ms, p99 ${fmt(s.p99Ms)} ms, max ${fmt(s.maxMs)} ms`,
        `${s.revokes} revokes`,
        '',
        '',
        targetText(s.target),
        verdict(s),
      ]);
      continue;
    }
    const side = (x) =>
      `${fmt(x?.opsPerSec)} ${s.unit} (p50 ${fmt(x?.p50, 0)} / p99 ${fmt(x?.p99, 0)} ms${x?.cpuMsPerOp ? `; ${fmt(x.cpuMsPerOp, 2)} CPU ms each` : ''})`;
    rows.push([
      s.title,
      side(s.subject),
      side(s.baseline),
      `${fmt(s.ratio, 2)}${s.cpuRatio ? ` (CPU ${fmt(s.cpuRatio, 2)})` : ''}`,
      s.p99OverheadMs !== undefined ? `p99 overhead ${fmt(s.p99OverheadMs, 2)} ms (one at a time)` : (s.extra ?? ''),
      targetText(s.target),
      verdict(s),
    ]);
    for (const ref of s.references ?? []) {
      rows.push([
        `  reference: ${ref.label}`,
        `${fmt(ref.opsPerSec)} ${s.unit} (p50 ${fmt(ref.p50, 0)} / p99 ${fmt(ref.p99, 0)} ms)`,
        '',
        '',
        '',
        '',
        '',
      ]);
    }
    if (s.memory) {
      rows.push([
        'Memory: resource proxy',
        `${fmt(s.memory.afterLoadMiB)} MiB after load runs`,
        '',
        '',
        '',
        'report only',
        '',
      ]);
    }
  }
  return rows;
}

export function formatTable(out) {
  const header = ['scenario', 'subject', 'baseline', 'ratio (CPU ratio)', 'extra', 'target', 'verdict'];
  const rows = tableRows(out);
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  const m = out.machine;
  return [
    '',
    `mcp-oauth-server benchmark (${out.mode}, ${out.engine ?? 'SQLite'}), ${out.date}, ${out.seconds} s`,
    `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, load average ${m.loadAverageAtStart.join(' ')} at start`,
    '',
    ...lines,
    '',
  ].join('\n');
}
