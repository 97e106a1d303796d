#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof`, written by `npm run bench -- --profile`): self
// time by function and by where the code lives (our src/, a package under node_modules, Node's
// internals, native/GC), so a missed target can be explained from the profile.
// Usage: node bench/profile_summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile_summary.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}
const topIdx = rest.indexOf('--top');
const top = topIdx >= 0 ? Number(rest[topIdx + 1]) : 20;

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// Idle time (the server waiting while the baseline runs) is left out: shares are of busy time.
const selfUs = new Map();
profile.samples.forEach((id, i) => {
  if (byId.get(id)?.callFrame.functionName === '(idle)') return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url) {
  if (!url) return '(native, GC or idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  const ours = /\/(src\/[^/]+)\//.exec(url);
  if (ours) return `ours: ${ours[1]}`;
  return url.replace(/^file:\/\//, '');
}

const fns = new Map();
const places = new Map();
for (const [id, us] of selfUs) {
  const { callFrame: f } = byId.get(id);
  const place = where(f.url);
  const name = `${f.functionName || '(anonymous)'}  ${f.url ? `${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}` : ''}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  places.set(place, (places.get(place) ?? 0) + us);
}

const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const list = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${pct(us)}  ${k}`)
    .join('\n');

console.log(`${file}: ${(total / 1e6).toFixed(1)} s busy`);
console.log('\nself time by where the code lives:');
console.log(list(places, 15));
console.log(`\ntop ${top} functions by self time:`);
console.log(list(fns, top));
