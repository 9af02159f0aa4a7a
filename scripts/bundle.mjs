// Bundles the CLI into dist/cli.js and dist/chunks/ (esbuild): a few files to read and compile
// instead of ~300 modules; what a command loads on demand (dynamic import) stays in its own chunk,
// so it still loads only then. Runs after tsc, whose dist/ stays for library use (the emulators).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** `import … from 'undici'` → scripts/undici-core.mjs (the deep `undici/lib/…` paths it requires stay undici's). */
const undiciCore = {
  name: 'undici-core',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: resolve(ROOT, 'scripts/undici-core.mjs') }));
  },
};

/** `import … from 'prom-client'` → scripts/prom-client-core.mjs (no Pushgateway, cluster or Summary). */
const promClientCore = {
  name: 'prom-client-core',
  setup(build) {
    build.onResolve({ filter: /^prom-client$/ }, () => ({ path: resolve(ROOT, 'scripts/prom-client-core.mjs') }));
  },
};

/**
 * CommonJS modules a dependency requires at its top but uses only in a path the sidecar never or
 * rarely takes: the bundle gives the requirer a stand-in that requires the real module (bundled
 * as usual, in its own lazy wrapper) on first use. undici's HTTP/2 client loads node:http2
 * (~10 ms, ~6 MB) and is used only when a TLS upstream picks h2 from the ALPN list undici offers
 * by default (plain-HTTP upstreams and HTTP/1.1 ones never load it; test/integration/lazy-loading);
 * prom-client's CPU metric loads @opentelemetry/api, read only for exemplars, which are off.
 */
const LAZY = [
  { specifier: './client-h2.js', importer: /undici\/lib\/dispatcher\/client\.js$/, shape: 'function' },
  { specifier: '@opentelemetry/api', importer: /prom-client\/lib\/metrics\/processCpuTotal\.js$/, shape: 'object' },
];
const lazyRequires = {
  name: 'lazy-requires',
  setup(build) {
    for (const { specifier, importer, shape } of LAZY) {
      const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
      build.onResolve({ filter }, (args) => {
        if (!importer.test(args.importer)) return undefined;
        const real = createRequire(args.importer).resolve(specifier);
        // The stand-in's name is the real module's path inside the project (no build machine path in the bundle).
        return { path: relative(ROOT, real), namespace: 'lazy', pluginData: { shape, real } };
      });
    }
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ pluginData: { shape, real: path } }) => {
      const real = `require(${JSON.stringify(path)})`;
      const contents =
        shape === 'function'
          ? `module.exports = function lazy(...args) { return ${real}.apply(this, args); };`
          : `module.exports = new Proxy({}, { get: (_, key) => ${real}[key], has: (_, key) => key in ${real} });`;
      return { contents, loader: 'js', resolveDir: ROOT };
    });
  },
};

/**
 * The entry turns on V8's compile cache (Node ≥ 22; $NODE_COMPILE_CACHE or the temp dir) before
 * it loads the CLI, so every later start reads compiled code instead of parsing it again.
 */
const entry = {
  name: 'entry',
  setup(build) {
    build.onResolve({ filter: /^entry:cli$/ }, () => ({ path: 'cli', namespace: 'entry' }));
    build.onLoad({ filter: /.*/, namespace: 'entry' }, () => ({
      contents: "import { enableCompileCache } from 'node:module';\nenableCompileCache?.();\nawait import('./src/cli.ts');\n",
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

// Chunk names carry a content hash: drop the last build's, so dist/ holds one bundle.
const DIST = resolve(ROOT, 'dist');
for (const name of readdirSync(DIST)) if (name.startsWith('bundle-')) rmSync(resolve(DIST, name));

/**
 * Node's own modules through process.getBuiltinModule(), not `import`: an ES module import of a
 * builtin evaluates every export of its namespace, lazy getters included, and `import 'node:http'`
 * alone costs ~15 MB of RSS on Node 26 (it loads Node's internal fetch/WebSocket); the module
 * object itself costs nothing. The bundle's code and its CommonJS dependencies then share that.
 */
const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map((name) => name.replace(/[/]/g, '\\/')).join('|')})$`);
const builtins = {
  name: 'builtins',
  setup(build) {
    // A dynamic import() of a CommonJS chunk yields only `default`: give those an ES module with
    // the builtin's named exports (it is loaded lazily anyway, so reading each export costs nothing up front).
    // One stand-in per importing module (its path in the suffix): a stand-in two chunks shared would
    // become a chunk of its own, a file to resolve and load at start for one line of code.
    build.onResolve({ filter: BUILTIN }, ({ path, kind, importer }) => ({
      path: path.startsWith('node:') ? path : `node:${path}`,
      namespace: kind === 'dynamic-import' ? 'builtin-esm' : 'builtin',
      suffix: kind === 'dynamic-import' ? '' : `?${relative(ROOT, importer)}`,
    }));
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => ({ contents: `module.exports = process.getBuiltinModule(${JSON.stringify(path)});`, loader: 'js' }));
    build.onLoad({ filter: /.*/, namespace: 'builtin-esm' }, ({ path }) => {
      const names = Object.keys(process.getBuiltinModule(path)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default');
      const module = `const m = process.getBuiltinModule(${JSON.stringify(path)});`;
      return { contents: `${module}\nexport default m;\n${names.map((name) => `export const ${name} = m.${name};`).join('\n')}`, loader: 'js' };
    });
  },
};

await build({
  entryPoints: { cli: 'entry:cli' },
  outdir: DIST,
  // Beside cli.js, not in a folder: src/ reads files relative to its module (../package.json).
  chunkNames: 'bundle-[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  plugins: [entry, undiciCore, promClientCore, lazyRequires, builtins],
  // Whitespace and syntax only: names stay, so a stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies call require() for Node's own modules: give the ES module bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  legalComments: 'external',
  logLevel: 'warning',
});

/**
 * `token-sidecar --help` alone prints dist/bundle-help.txt, rendered here by the built CLI's own
 * yargs (`--help --log-level info` takes yargs' path and prints the same text): loading yargs and
 * laying out its help (string-width's Intl.Segmenter and Unicode property regexes) cost ~50 ms,
 * more than Node's own start. Rendered at every build, it cannot drift from the yargs definition.
 */
const help = spawnSync(process.execPath, [resolve(DIST, 'cli.js'), '--help', '--log-level', 'info'], { encoding: 'utf8' });
if (help.status !== 0 || !help.stdout.includes('token-sidecar')) throw new Error(`rendering --help failed (exit ${help.status}): ${help.stderr}`);
writeFileSync(resolve(DIST, 'bundle-help.txt'), help.stdout);
