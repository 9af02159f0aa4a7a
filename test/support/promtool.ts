// Runs Debian's `promtool` (installed by scripts/test-deps.sh) for tests: lint exposition text,
// check and unit-test rule files. Arguments always go as an array, never through a shell.
import { execFile } from 'node:child_process';

export const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

export interface PromtoolResult {
  /** Exit code; promtool uses 0 = fine, 1 = error, 3 = lint problems. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface MetricsCheck {
  ok: boolean;
  /** One line per problem, e.g. `foo counter metrics should have "_total" suffix`. */
  problems: string[];
}

/** Runs `promtool ...args`, feeding `input` on stdin; resolves with the exit code, never rejects on a non-zero one. */
export function runPromtool(
  args: readonly string[],
  options: { input?: string; cwd?: string } = {},
): Promise<PromtoolResult> {
  const { input, cwd } = options;
  return new Promise((resolve, reject) => {
    const settings = { cwd, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 };
    const child = execFile(PROMTOOL, args, settings, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        // Not an exit status: promtool missing (ENOENT), killed by the timeout, ...
        reject(new Error(`promtool ${args.join(' ')} failed to run: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
    // promtool may exit before reading all of stdin (a parse error on line 1); that EPIPE is not our failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** Lints Prometheus exposition text with `promtool check metrics` (naming, units, help text, syntax). */
export async function checkMetrics(text: string): Promise<MetricsCheck> {
  const { code, stdout, stderr } = await runPromtool(['check', 'metrics'], { input: text });
  const problems = `${stderr}\n${stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (code === 0) return { ok: true, problems: [] };
  return { ok: false, problems: problems.length > 0 ? problems : [`promtool check metrics exited with ${code}`] };
}
