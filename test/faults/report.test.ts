// The fault report: each scenario runs at a steady request rate against a fresh sidecar, then a
// mixed-fault soak switches faults every few seconds across four providers. Every row must show
// 0 requests lost (every request got an answer) and 0 unauthenticated forwards (see Ledger in
// tap.ts for the exact definition).
//
//   npx vitest run test/faults/report.test.ts                       quick: 3 s per scenario, 10 s soak
//   FAULT_REPORT=1 npx vitest run test/faults/report.test.ts        prints the table (8 s × 50 req/s)
//   FAULT_SOAK=1 ...                                                 the full 60-second soak
//   FAULT_REPORT_OUT=test/faults/RESULTS.md ...                      also writes the table there
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, type ApiFault, type TokenFault } from '../../src/emulators/index.js';
import type { Provisioned } from './fleet.js';
import { readyz } from './kit.js';
import { runScenario, table, type Row, type Scenario, type ScenarioContext, type UnitSpec } from './load.js';
import { secretVolume } from '../support/secret-volume.js';

const REPORT = process.env.FAULT_REPORT === '1';
const SOAK = process.env.FAULT_SOAK === '1';
const OUT = process.env.FAULT_REPORT_OUT;
const SECONDS = REPORT || SOAK ? 8 : 3;
const RATE = REPORT || SOAK ? 50 : 20;
/** Token lifetime: short, so token faults outlast the token and show as 503s. */
const LIFETIME = REPORT || SOAK ? 3 : 2;
const SOAK_SECONDS = SOAK ? 60 : 10;
const SOAK_RATE = 50;
const SOAK_PHASE_MS = 2_500;

const LEGEND = `Each scenario starts a fresh sidecar (the built CLI) against provider emulators behind recording taps, waits until every route serves (or stands rejected), then sends GET requests at a steady rate while the fault is switched on at 20% and off at 70% of the run. Timings: \`timeouts.token\` 600 ms, \`timeouts.upstreamHeaders\` 1 s, \`timeouts.connect\` 500 ms, \`refresh.backoffInitial\` 100 ms doubling to \`backoffMax\` 800 ms; access tokens live ${LIFETIME} s so token-endpoint faults outlast them.

- **answers by status**: what the app got. \`200 cut\`: the upstream reset mid-body and the sidecar cut the app's answer the same way rather than pass a truncated body off as complete. 503 is \`token_unavailable\` (with \`Retry-After\`), 502 \`token_rejected\` or \`upstream_unavailable\`, 504 \`upstream_timeout\`; 401s are the upstream's own, passed back after one retry with a fresh token (and at once, without a token request, while fresh tokens keep getting 401s: backoff from \`refresh.backoffInitial\` to \`backoffMax\`).
- **token requests**: requests that reached the emulator's token endpoint during the run (attempts against a closed port never arrive).
- **upstream 401s**: 401s the API answered, including those the test caused on purpose (tokens revoked with \`expireAllAccessTokens\`, the \`unauthorized\` fault).
- **requests lost** (must be 0): requests with no HTTP answer at all within 20 s, longer than every configured timeout.
- **unauthenticated forwards** (must be 0): API requests that reached the upstream without \`Authorization: Bearer <t>\` where \`t\` is an access token the token endpoint issued (as the token tap relayed it) whose \`expires_in\` had not run out when the request arrived (\`expires_in\` absent: the emulator's real lifetime). A bearer taken from a malformed answer (null token, negative \`expires_in\`) counts; tokens the test revoked on purpose do not. Counted over the sidecar's whole life, warm-up included.`;

const rows: Row[] = [];
afterAll(async () => {
  const text = table(rows);
  if (REPORT || SOAK || OUT) console.log(`\n${text}\n`);
  if (OUT) {
    const command = 'npm run build && FAULT_REPORT=1 FAULT_SOAK=1 FAULT_REPORT_OUT=test/faults/RESULTS.md npx vitest run test/faults/report.test.ts';
    await writeFile(OUT, [
      '# Fault report',
      '',
      `Regenerate with \`${command}\` (about 4 minutes).`,
      `This run: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} CPUs; ${SECONDS} s per scenario at ${RATE} req/s, soak ${SOAK_SECONDS} s at ${SOAK_RATE} req/s.`,
      '',
      text,
      '',
      LEGEND,
      '',
    ].join('\n'));
  }
});

const ON = 0.2;
const OFF = 0.7;
const api = (context: ScenarioContext): Provisioned => context.units.api as Provisioned;
const single = (options: UnitSpec['options'] = {}, provider: UnitSpec['provider'] = 'cobee', route?: UnitSpec['route']): Record<string, UnitSpec> => ({
  api: { provider, options: { lifetimeSeconds: LIFETIME, ...options }, ...(route ? { route } : {}) },
});

function tokenFault(name: string, fault: TokenFault, extra: Partial<Scenario> = {}): Scenario {
  return {
    name,
    units: single(),
    timeline: [
      { at: ON, act: (context) => api(context).emulator.injectTokenFault({ fault }) },
      { at: OFF, act: (context) => api(context).emulator.injectTokenFault(undefined) },
    ],
    allowed: ['200', '503'],
    ...extra,
  };
}

function apiFault(name: string, fault: ApiFault, allowed: string[], extra: Partial<Scenario> = {}): Scenario {
  return {
    name,
    units: single(),
    timeline: [
      { at: ON, act: (context) => api(context).emulator.injectApiFault({ fault }) },
      { at: OFF, act: (context) => api(context).emulator.injectApiFault(undefined) },
    ],
    allowed,
    ...extra,
  };
}

let volume: Awaited<ReturnType<typeof secretVolume>> | undefined;

const SCENARIOS: Scenario[] = [
  { name: 'no fault (tokens live 2-3 s: refreshed ahead in the background)', units: single(), allowed: ['200'] },
  tokenFault('token endpoint slower than timeouts.token', { kind: 'delay', ms: 3_000 }),
  tokenFault('token endpoint hangs', { kind: 'hang' }),
  tokenFault('token endpoint answers 500', { kind: 'status', status: 500 }),
  tokenFault('token endpoint answers 429 + Retry-After: 1', { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, {
    // At most one token request per Retry-After second while limited, plus recovery.
    check: (row) => expect(row.tokenRequests).toBeLessThanOrEqual(Math.ceil((OFF - ON) * SECONDS) + 4),
  }),
  tokenFault('token endpoint resets connections', { kind: 'reset' }),
  {
    name: 'token endpoint port closed',
    units: single(),
    timeline: [
      { at: ON, act: (context) => api(context).tokenTap.close() },
      { at: OFF, act: (context) => api(context).tokenTap.open() },
    ],
    allowed: ['200', '503'],
  },
  {
    name: 'token endpoint 200s: HTML, garbage, 10 MB, null token, negative expires_in (Light, rotating)',
    units: single({}, 'light'),
    timeline: [
      ...([{ kind: 'html' }, { kind: 'garbage' }, { kind: 'huge', bytes: 10 * 1024 * 1024 }, { kind: 'nullToken' }, { kind: 'expiresIn', value: -1 }] as TokenFault[]).map((fault, index) => ({
        at: ON + (index * (OFF - ON)) / 5,
        act: (context: ScenarioContext) => api(context).emulator.injectTokenFault({ fault }),
      })),
      { at: OFF, act: (context) => api(context).emulator.injectTokenFault(undefined) },
    ],
    // 502 would be token_rejected: a lost grant.
    allowed: ['200', '503'],
  },
  {
    name: `token endpoint omits expires_in (refresh.defaultLifetime ${LIFETIME}s)`,
    units: single({ omitExpiresIn: true, lifetimeSeconds: 3_600 }),
    config: { refresh: { defaultLifetime: `${LIFETIME}s` } },
    allowed: ['200'],
    check: (row) => expect(row.tokenRequests).toBeGreaterThanOrEqual(1),
  },
  {
    name: 'rejected credentials (wrong client secret)',
    units: single({}, 'cobee', () => ({ credentials: { clientSecret: 'wrong-secret' } })),
    warmUp: 'rejected',
    allowed: ['502'],
    check: (row) => expect(row.tokenRequests).toBe(0),
  },
  {
    name: 'secret rotation: wrong secret, then the ..data symlink swapped to the right one',
    prepare: async () => {
      volume = await secretVolume({ clientSecret: 'wrong-secret' });
      return () => (volume as NonNullable<typeof volume>).remove();
    },
    units: single({}, 'cobee', () => ({ credentials: { clientSecret: `\${file:${(volume as NonNullable<typeof volume>).path('clientSecret')}}` } })),
    config: { refresh: { rejectedRetry: '1h' } },
    warmUp: 'rejected',
    timeline: [{ at: 0.3, act: () => volume?.update({ clientSecret: DEMO_CLIENTS.cobee.clientSecret }) }],
    allowed: ['502', '200'],
    check: (row) => expect(row.answers['200']).toBeGreaterThan(0),
  },
  {
    name: 'upstream 401 storm: every token revoked 4 times',
    units: single({ lifetimeSeconds: 3_600 }),
    timeline: [0.2, 0.4, 0.6, 0.8].map((at) => ({ at, act: (context: ScenarioContext) => api(context).emulator.expireAllAccessTokens() })),
    allowed: ['200'],
    // One token request per storm, however many requests hit it.
    check: (row) => expect(row.tokenRequests).toBe(4),
  },
  apiFault('upstream answers 401 to every token', { kind: 'unauthorized' }, ['200', '401'], {
    // A probe with a fresh token per backoff window (100 ms doubling to 800 ms), not one per request.
    check: (row) => expect(row.tokenRequests).toBeLessThanOrEqual(Math.ceil((OFF - ON) * SECONDS) * 2 + 4),
  }),
  apiFault('upstream stalls past timeouts.upstreamHeaders', { kind: 'stall' }, ['200', '504']),
  apiFault('upstream resets mid-body', { kind: 'resetMidBody' }, ['200', '200 cut', '502']),
  {
    name: 'upstream port closed',
    units: single(),
    timeline: [
      { at: ON, act: (context) => api(context).apiTap.close() },
      { at: OFF, act: (context) => api(context).apiTap.open() },
    ],
    allowed: ['200', '502'],
  },
];

function checkRow(row: Row, scenario: Scenario): void {
  expect(row.lost, `lost: ${row.lostDetail.join(', ')}`).toBe(0);
  expect(row.unauthenticated).toBe(0);
  expect(Object.keys(row.answers).filter((outcome) => !scenario.allowed.includes(outcome))).toEqual([]);
}

describe('fault report', () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, { timeout: SECONDS * 1000 + 30_000 }, async () => {
      const row = await runScenario(scenario, { rate: RATE, seconds: SECONDS });
      rows.push(row);
      checkRow(row, scenario);
    });
  }
});

/** Each soak phase applies one fault to one route and returns how to undo it. */
type SoakFault = { name: string; apply: (unit: Provisioned) => () => unknown };
const tokenPhase = (name: string, fault: TokenFault): SoakFault => ({ name, apply: (unit) => (unit.emulator.injectTokenFault({ fault }), () => unit.emulator.injectTokenFault(undefined)) });
const apiPhase = (name: string, fault: ApiFault): SoakFault => ({ name, apply: (unit) => (unit.emulator.injectApiFault({ fault }), () => unit.emulator.injectApiFault(undefined)) });
const SOAK_FAULTS: SoakFault[] = [
  tokenPhase('token 500', { kind: 'status', status: 500 }),
  apiPhase('upstream stall', { kind: 'stall' }),
  tokenPhase('token hang', { kind: 'hang' }),
  { name: '401 storm', apply: (unit) => (unit.emulator.expireAllAccessTokens(), () => undefined) },
  tokenPhase('token reset', { kind: 'reset' }),
  apiPhase('upstream reset mid-body', { kind: 'resetMidBody' }),
  tokenPhase('token garbage', { kind: 'garbage' }),
  { name: 'upstream port closed', apply: (unit) => (void unit.apiTap.close(), () => unit.apiTap.open()) },
  tokenPhase('token null', { kind: 'nullToken' }),
  tokenPhase('token 429', { kind: 'status', status: 429, headers: { 'retry-after': '1' } }),
  apiPhase('upstream 401', { kind: 'unauthorized' }),
  { name: 'token port closed', apply: (unit) => (void unit.tokenTap.close(), () => unit.tokenTap.open()) },
  tokenPhase('token 10 MB', { kind: 'huge', bytes: 10 * 1024 * 1024 }),
  tokenPhase('token expires_in -1', { kind: 'expiresIn', value: -1 }),
  apiPhase('upstream slow', { kind: 'delay', ms: 300 }),
  { name: 'no fault', apply: () => () => undefined },
];

describe('mixed-fault soak', () => {
  const phases = Math.floor((SOAK_SECONDS * 1000) / SOAK_PHASE_MS);
  const routes = ['covver', 'cobee', 'petje', 'light'] as const;
  const scenario: Scenario = {
    name: `mixed-fault soak: 4 providers, fault switched every ${SOAK_PHASE_MS / 1000} s (${phases} phases)`,
    units: Object.fromEntries(routes.map((provider) => [provider, { provider, options: { lifetimeSeconds: 3 } }])),
    timeline: Array.from({ length: phases }, (_, phase) => ({
      at: phase / phases,
      act: (context: ScenarioContext) => {
        undo?.();
        const fault = SOAK_FAULTS[phase % SOAK_FAULTS.length] as SoakFault;
        undo = fault.apply(context.units[routes[phase % routes.length] as string] as Provisioned);
      },
    })),
    allowed: ['200', '200 cut', '401', '502', '503', '504'],
    check: async (_row, context) => {
      undo?.();
      // No grant was lost on the way: nothing stands rejected, and every route serves again.
      expect(context.sidecar.logs.filter((line) => line.kind === 'rejected')).toEqual([]);
      expect((await readyz(context.sidecar)).status).toBe(200);
    },
  };
  let undo: (() => unknown) | undefined;

  it(scenario.name, { timeout: SOAK_SECONDS * 1000 + 60_000 }, async () => {
    const row = await runScenario(scenario, { rate: SOAK_RATE, seconds: SOAK_SECONDS });
    rows.push(row);
    checkRow(row, scenario);
  });
});
