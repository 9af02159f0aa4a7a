#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Addresses, App } from './app.js';
import { UsageError } from './commands/usage-error.js';
import type { SidecarConfig } from './config/load.js';
import type { Logger, LogLevel } from './log.js';

// Each command loads what it uses when it runs (dynamic import): `--version` and `--help` load
// nothing but yargs, `check` no proxy, the sidecar no emulators, demo and emulate no Redis client.

const EXIT = { ok: 0, runtime: 1, usage: 2 } as const;
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** ConfigError by name: naming its class would load the config schema (zod) for `--help`. */
const isUsageFailure = (error: unknown): error is Error => error instanceof UsageError || (error instanceof Error && error.name === 'ConfigError');

async function load(path: string): Promise<SidecarConfig> {
  const { loadConfig } = await import('./config/load.js');
  return loadConfig(path);
}

async function openLogger(level: LogLevel): Promise<Logger> {
  const { createLogger } = await import('./log.js');
  return createLogger({ level });
}

function fail(error: unknown): never {
  if (isUsageFailure(error)) {
    console.error(`token-sidecar: ${error.message}`);
    process.exit(EXIT.usage);
  }
  console.error(`token-sidecar: ${(error as Error)?.message ?? String(error)}`);
  process.exit(EXIT.runtime);
}

function configPath(argv: { config?: string | undefined }): string {
  const path = argv.config ?? process.env.TOKEN_SIDECAR_CONFIG;
  if (!path) throw new UsageError('no config: pass --config FILE or set TOKEN_SIDECAR_CONFIG');
  return path;
}

/** The first line the operator types (or a pipe delivers). */
async function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  throw new UsageError('stdin closed before an authorization code was given');
}

/** Runs until SIGTERM/SIGINT, then stops gracefully and exits 0. */
async function serve(app: App, logger: Logger, cleanup?: () => Promise<void>): Promise<Addresses> {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'signal', signal });
    app
      .stop()
      .then(() => cleanup?.())
      .then(() => process.exit(EXIT.ok), (error: unknown) => fail(error));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return app.start();
}

/** The default command: the sidecar, until SIGTERM/SIGINT. */
async function runSidecar(argv: { config?: string | undefined; 'log-level': LogLevel }): Promise<void> {
  const log = await openLogger(argv['log-level']);
  try {
    const config = await load(configPath(argv));
    const { createApp } = await import('./app.js');
    await serve(await createApp({ config, logger: log }), log);
  } catch (error) {
    if (!isUsageFailure(error)) log.error({ event: 'start_failed', error: (error as Error).message });
    fail(error);
  }
}

/** dist/bundle-help.txt beside the bundle; undefined when absent (yargs then renders the help). */
function prebuiltHelp(): string | undefined {
  try {
    return readFileSync(new URL('./bundle-help.txt', import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}

/** The levels both readers of the command line accept (not from log.ts: that would load pino for `--help`). */
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * The sidecar's own start (`[--config FILE] [--log-level L]`, each at most once, nothing else) is
 * read with node:util's parseArgs: yargs costs ~40 ms of a start and ~10 MB that every pod would
 * keep. Anything else, a misspelt flag or a bad value included, goes to yargs, so every usage
 * error and all help still come from one place.
 */
function plainStart(args: readonly string[]): { config?: string | undefined; 'log-level': LogLevel } | undefined {
  try {
    const { values, tokens } = parseArgs({ args: [...args], strict: true, allowPositionals: false, tokens: true, options: { config: { type: 'string' }, 'log-level': { type: 'string' } } });
    if (new Set(tokens.map((token) => (token.kind === 'option' ? token.name : token.kind))).size !== tokens.length) return undefined;
    const level = (values['log-level'] ?? 'info') as LogLevel;
    return LOG_LEVELS.includes(level) && values.config !== '' ? { config: values.config, 'log-level': level } : undefined;
  } catch {
    return undefined;
  }
}

// `--version` alone is answered before yargs loads (a third of a bare start): image checks and
// probes call it often. Everything else goes through yargs, whose `.version()` prints the same.
if (process.argv.length === 3 && process.argv[2] === '--version') {
  process.stdout.write(`${version}\n`);
  process.exit(EXIT.ok);
}
// `--help` alone: the text yargs rendered at build time (scripts/bundle.mjs), without loading it.
if (process.argv.length === 3 && process.argv[2] === '--help') {
  const help = prebuiltHelp();
  if (help !== undefined) {
    process.stdout.write(help);
    process.exit(EXIT.ok);
  }
}
const plain = plainStart(process.argv.slice(2));
if (plain !== undefined) await runSidecar(plain);
else await usage();

/** Every other command line: yargs, loaded only here. */
async function usage(): Promise<void> {
  const [{ default: yargs }, { hideBin }] = await Promise.all([import('yargs'), import('yargs/helpers')]);

  await yargs(hideBin(process.argv))
    .scriptName('token-sidecar')
    .usage('$0 [--config FILE]\n\nFetches, caches, refreshes and injects OAuth tokens for apps on loopback.')
    .option('log-level', { choices: LOG_LEVELS, default: 'info' as LogLevel, describe: 'log threshold' })
    .option('config', { type: 'string', describe: 'YAML or JSON config file (or TOKEN_SIDECAR_CONFIG)' })
    .command(
      '$0',
      'run the sidecar until SIGTERM/SIGINT',
      () => undefined,
      (argv) => runSidecar(argv),
    )
    .command(
      'check',
      'validate the config and print the resolved routes with secrets redacted',
      () => undefined,
      async (argv) => {
        try {
          const config = await load(configPath(argv));
          const { describeConfig } = await import('./commands/check.js');
          process.stdout.write(`# configuration is valid\n${describeConfig(config)}`);
        } catch (error) {
          fail(error);
        }
      },
    )
    .command(
      'demo',
      'start emulators of the four providers and a sidecar configured for them',
      (command) =>
        command
          .option('port', { type: 'number', default: 8080, describe: 'proxy port (0: any free port)' })
          .option('admin-port', { type: 'number', default: 9464, describe: 'admin port (0: any free port)' })
          .option('lifetime', { type: 'number', default: 60, describe: 'access-token lifetime of the emulators, seconds' }),
      async (argv) => {
        const log = await openLogger(argv['log-level']);
        try {
          const [{ demoInstructions, startDemo }, { createApp }] = await Promise.all([import('./demo.js'), import('./app.js')]);
          const { emulators, config } = await startDemo({ port: argv.port, adminPort: argv['admin-port'], lifetimeSeconds: argv.lifetime });
          const app = await createApp({ config, logger: log });
          const { proxy, admin } = await serve(app, log, () => emulators.close());
          process.stderr.write(demoInstructions(proxy, admin, argv.lifetime));
        } catch (error) {
          fail(error);
        }
      },
    )
    .command(
      'emulate',
      'start the built-in provider emulators alone (for an app team\'s local development and tests), and one for each provider described in --config; prints their token URLs, client ids and secrets',
      (command) =>
        command
          .option('port', { type: 'number', default: 8900, describe: 'port of the first emulator; the others take the next ports (0: any free ports)' })
          .option('lifetime', { type: 'number', describe: 'access-token lifetime, seconds (default: each provider\'s documented one)' })
          .option('json', { type: 'boolean', default: false, describe: 'print the listing as one JSON line' }),
      async (argv) => {
        try {
          // Loaded only for this command: the sidecar itself never needs the emulators.
          const { describeEmulators, startEmulate } = await import('./commands/emulate.js');
          const described = argv.config === undefined ? {} : (await import('./config/load.js')).loadDescribedProviders(argv.config);
          const running = await startEmulate({ port: argv.port, lifetimeSeconds: argv.lifetime, described });
          const stop = () => void running.close().then(() => process.exit(EXIT.ok), (error: unknown) => fail(error));
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
          process.stdout.write(argv.json ? `${JSON.stringify({ emulators: running.listings })}\n` : describeEmulators(running.listings, argv.lifetime));
        } catch (error) {
          fail(error);
        }
      },
    )
    .command(
      'authorize <route>',
      'exchange a one-time authorization code (Petje.af, Light, oauth2) and store the refresh token; without --code, an oauth2 route with authorizeUrl prints the consent URL (PKCE) and reads the code or redirect address from stdin',
      (command) =>
        command
          .positional('route', { type: 'string', demandOption: true, describe: 'route name in the config' })
          .option('code', { type: 'string', describe: 'the one-time authorization code (omit it to run the consent flow of an oauth2 route with authorizeUrl)' }),
      async (argv) => {
        try {
          const config = await load(configPath(argv));
          const [{ authorizableRoute, authorize }, { codeFromAnswer, startConsent }] = await Promise.all([import('./commands/authorize.js'), import('./commands/consent.js')]);
          if (argv.code !== undefined) {
            console.log(await authorize(config, argv.route, argv.code));
            return;
          }
          const consent = startConsent(authorizableRoute(config, argv.route));
          process.stderr.write('Open this URL in a browser and consent; then paste the code, or the whole address the browser was sent to:\n');
          console.log(consent.url);
          const code = codeFromAnswer(await firstLine(process.stdin), consent);
          console.log(await authorize(config, argv.route, code, consent.codeVerifier));
        } catch (error) {
          fail(error);
        }
      },
    )
    .strict()
    .fail((message, error) => {
      if (error) fail(error);
      console.error(`token-sidecar: ${message}\nRun token-sidecar --help for usage.`);
      process.exit(EXIT.usage);
    })
    .wrap(100)
    .version(version)
    .help()
    .parseAsync();
}
