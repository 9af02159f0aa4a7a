// Summarises a V8 .cpuprofile (node --cpu-prof): self time by package/area and the top functions.
// Also runnable on its own: node bench/lib/cpuprofile.mjs FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

function area(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) {
    const internal = /^node:(?:internal\/)?([^/]+(?:\/[^/]+)?)/.exec(url);
    return `node:${internal ? internal[1].replace(/\.js$/, '') : url}`;
  }
  const own = /\/dist\/(.+)$/.exec(url);
  if (own) return `token-sidecar:${own[1].split('/')[0]}`;
  return url.split('/').slice(-2).join('/');
}

export function summarizeProfile(file, top = 20) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  // Percentages are of busy time: idle samples (waiting on I/O, before and after the load) are left out.
  const idleIds = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
  for (const id of idleIds) selfUs.delete(id);
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const sampled = (profile.endTime - profile.startTime) / 1e6;
  const areas = new Map();
  const functions = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = area(callFrame.url, name);
    areas.set(where, (areas.get(where) ?? 0) + us);
    const key = `${name}  ${callFrame.url ? `${callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${callFrame.lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`profile ${file}: ${(total / 1e6).toFixed(2)} s busy of ${sampled.toFixed(2)} s; shares of busy time`, '  self time by area ("(native)" is mostly socket syscalls: writev, writeLatin1String, ...):'];
  for (const [name, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${name}`);
  lines.push('  top functions (self time):');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${name}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/lib/cpuprofile.mjs FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, Number(top ?? 20))}\n`);
}
