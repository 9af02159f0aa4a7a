// Runs one fault scenario at a steady request rate against a freshly started sidecar and
// returns a row of the fault report: what was sent, how it was answered, what it cost.
import { Agent, request } from 'undici';
import { provision, type Provisioned } from './fleet.js';
import { Cleanup, fastConfig, paced, startSidecar, waitFor, waitForRouteState, type RunningSidecar } from './kit.js';
import type { EmulatedProvider, EmulatorOptions } from '../../src/emulators/index.js';

/** An answer with a status and a whole body, `<status> cut` (body cut short), or `lost` (no answer). */
export type Outcome = string;

/** No answer within this long counts as lost: beyond every timeout the scenarios configure. */
const CLIENT_DEADLINE_MS = 20_000;

export interface ScenarioContext {
  readonly units: Record<string, Provisioned>;
  readonly sidecar: RunningSidecar;
}

export interface UnitSpec {
  readonly provider: EmulatedProvider;
  readonly options?: EmulatorOptions;
  /** Route overrides (credentials merge) for this unit's route. */
  readonly route?: (unit: Provisioned) => Record<string, unknown> & { credentials?: Record<string, unknown> };
}

export interface Scenario {
  readonly name: string;
  /** Route name → emulator behind taps; requests go round-robin over the routes. */
  readonly units: Record<string, UnitSpec>;
  /** Top-level config overrides (timeouts and refresh merge with FAST). */
  readonly config?: Record<string, unknown>;
  /** What to wait for before the clock starts: every route serving (default) or standing rejected. */
  readonly warmUp?: 'serving' | 'rejected';
  /** Faults on a timeline: `at` is a fraction of the run (0..1). */
  readonly timeline?: ReadonlyArray<{ at: number; act: (context: ScenarioContext) => unknown }>;
  /** Every answer must be one of these (`200 cut` for a body cut short). */
  readonly allowed: readonly string[];
  /** Extra checks on the finished row, while the sidecar still runs. */
  readonly check?: (row: Row, context: ScenarioContext) => unknown;
  /** Sets up what lives outside the units (e.g. a secret volume); returns its teardown. */
  readonly prepare?: () => Promise<() => Promise<void>>;
}

export interface Row {
  readonly scenario: string;
  readonly seconds: number;
  readonly rate: number;
  readonly sent: number;
  readonly answers: Record<Outcome, number>;
  readonly lost: number;
  readonly tokenRequests: number;
  readonly unauthenticated: number;
  /** 401s the upstream gave (revocations and 401 faults the test injected included). */
  readonly upstream401s: number;
  readonly lostDetail: string[];
}

async function send(agent: Agent, url: string): Promise<{ outcome: Outcome; detail?: string }> {
  let status: number;
  let body: Awaited<ReturnType<typeof request>>['body'];
  try {
    const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(CLIENT_DEADLINE_MS) });
    status = res.statusCode;
    body = res.body;
  } catch (error) {
    return { outcome: 'lost', detail: (error as { code?: string }).code ?? (error as Error).name };
  }
  try {
    await body.text();
    return { outcome: String(status) };
  } catch {
    return { outcome: `${status} cut` };
  }
}

/** Starts the scenario's emulators, taps and sidecar, runs it at `rate` req/s for `seconds`, tears down. */
export async function runScenario(scenario: Scenario, options: { rate: number; seconds: number }): Promise<Row> {
  const cleanup = new Cleanup();
  try {
    if (scenario.prepare) cleanup.add(await scenario.prepare(), (teardown) => teardown());
    const units: Record<string, Provisioned> = {};
    const routes: Record<string, Record<string, unknown>> = {};
    for (const [name, spec] of Object.entries(scenario.units)) {
      const unit = cleanup.add(await provision(spec.provider, spec.options), (started) => started.close());
      units[name] = unit;
      routes[name] = unit.route(spec.route?.(unit) ?? {});
    }
    const sidecar = cleanup.add(await startSidecar(fastConfig(routes, scenario.config)), (started) => started.stop());
    const names = Object.keys(routes);
    const agent = cleanup.add(new Agent({ connections: 512, keepAliveTimeout: 2_000 }), (dispatcher) => dispatcher.destroy());
    const state = scenario.warmUp === 'rejected' ? 'rejected' : 'serving';
    await waitFor(
      async () => {
        if (state === 'rejected') return (await waitForRouteState(sidecar, 'rejected')) ? true : undefined;
        for (const name of names) if ((await send(agent, `${sidecar.url}/${name}/whoami`)).outcome !== '200') return undefined;
        return true;
      },
      { timeoutMs: 10_000, what: `${scenario.name}: routes ${state}` },
    );

    const context: ScenarioContext = { units, sidecar };
    const before = Object.values(units).map((unit) => ({ tokens: unit.emulator.stats.tokenRequests, unauthorized: unit.emulator.stats.apiUnauthorized }));
    const durationMs = options.seconds * 1000;
    const timers = (scenario.timeline ?? []).map(({ at, act }) => setTimeout(() => void Promise.resolve(act(context)).catch(() => undefined), at * durationMs));
    let results: Array<{ outcome: Outcome; detail?: string }>;
    try {
      results = await paced(options.rate, durationMs, (index) => send(agent, `${sidecar.url}/${names[index % names.length] as string}/whoami`));
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
    const answers: Record<Outcome, number> = {};
    for (const { outcome } of results) answers[outcome] = (answers[outcome] ?? 0) + 1;
    const unitList = Object.values(units);
    const row: Row = {
      scenario: scenario.name,
      seconds: options.seconds,
      rate: options.rate,
      sent: results.length,
      answers,
      lost: answers.lost ?? 0,
      tokenRequests: unitList.reduce((sum, unit, index) => sum + unit.emulator.stats.tokenRequests - (before[index]?.tokens ?? 0), 0),
      upstream401s: unitList.reduce((sum, unit, index) => sum + unit.emulator.stats.apiUnauthorized - (before[index]?.unauthorized ?? 0), 0),
      // Counted over the sidecar's whole life, warm-up included.
      unauthenticated: unitList.reduce((sum, unit) => sum + unit.ledger.unauthenticated.length, 0),
      lostDetail: results.filter((result) => result.outcome === 'lost').map((result) => result.detail ?? 'unknown'),
    };
    await scenario.check?.(row, context);
    return row;
  } finally {
    await cleanup.run();
  }
}

function formatAnswers(answers: Record<Outcome, number>): string {
  return Object.entries(answers)
    .filter(([outcome]) => outcome !== 'lost')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, count]) => `${outcome}: ${count}`)
    .join(', ');
}

/** The report as a Markdown table. */
export function table(rows: readonly Row[]): string {
  const header = ['scenario', 'seconds × req/s', 'requests sent', 'answers by status', 'token requests', 'upstream 401s', 'requests lost', 'unauthenticated forwards'];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, index) => (index === 0 || index === 3 ? '---' : '---:')).join(' | ')} |`];
  for (const row of rows) {
    lines.push(`| ${[row.scenario, `${row.seconds} × ${row.rate}`, row.sent, formatAnswers(row.answers), row.tokenRequests, row.upstream401s, row.lost, row.unauthenticated].join(' | ')} |`);
  }
  return lines.join('\n');
}
