// The cold-start burst: many first requests hit a sidecar that holds no token yet
// (refresh.eager: false). Single-flight means the token endpoint sees exactly one call.
import { performance } from 'node:perf_hooks';
import { fetch, Pool } from 'undici';

/** Fires `requests` GETs at once through a Pool of `connections`; counts statuses, times the whole burst. */
export async function burst(url, path, { requests, connections }) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const statuses = new Map();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: requests }, async () => {
        try {
          const { statusCode, body } = await pool.request({ path, method: 'GET' });
          await body.dump({ limit: Number.MAX_SAFE_INTEGER });
          statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
        } catch (error) {
          const key = `error ${error.code ?? error.message}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      }),
    );
    return { ms: performance.now() - started, statuses: Object.fromEntries(statuses) };
  } finally {
    await pool.close();
  }
}

/** The sidecar's own view of the burst, from its Prometheus metrics. */
export async function tokenMetrics(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const pick = (name) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`))
      .map((line) => {
        const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
        const value = Number(line.slice(line.lastIndexOf(' ') + 1));
        return { labels, value };
      });
  const durationSum = pick('token_sidecar_token_refresh_duration_seconds_sum')[0]?.value;
  return { cache: pick('token_sidecar_token_cache_total'), refresh: pick('token_sidecar_token_refresh_total'), refreshDuration: durationSum };
}
