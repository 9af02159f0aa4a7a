// test/support/prometheus.ts starts a real Prometheus on a port of its own choosing, scrapes the
// targets it is given, answers instant queries, and leaves nothing running after close().
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus } from '../support/prometheus.js';
import type { RunningPrometheus } from '../support/prometheus.js';

describe('startPrometheus (test/support/prometheus.ts)', () => {
  let scrapes = 0;
  const target = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes += 1;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(
      [
        '# HELP helper_selftest_requests_total Requests the self-test pretends to have served.',
        '# TYPE helper_selftest_requests_total counter',
        'helper_selftest_requests_total{route="covver"} 42',
        '# HELP helper_selftest_scrapes_total Scrapes this endpoint answered.',
        '# TYPE helper_selftest_scrapes_total counter',
        `helper_selftest_scrapes_total ${scrapes}`,
        '',
      ].join('\n'),
    );
  });
  let address = '';
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(target.address() as AddressInfo).port}`;
    prometheus = await startPrometheus({ targets: [address], scrapeInterval: '1s' });
  });

  afterAll(async () => {
    await prometheus?.close();
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });

  it('listens on a loopback port it picked and reports ready', async () => {
    expect(prometheus.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(prometheus.url).not.toMatch(/:0$/);
    const ready = await fetch(`${prometheus.url}/-/ready`);
    expect(ready.status).toBe(200);
  });

  it('scrapes the target: query() sees the counter with its labels', async () => {
    const result = await prometheus.waitFor('helper_selftest_requests_total', (v) => v.length > 0);
    expect(result).toHaveLength(1);
    expect(result[0]?.value).toBe(42);
    expect(result[0]?.metric).toMatchObject({
      __name__: 'helper_selftest_requests_total',
      route: 'covver',
      instance: address,
      job: 'test',
    });
    const up = await prometheus.query(`up{instance="${address}"}`);
    expect(up.map((s) => s.value)).toEqual([1]);
  });

  it('keeps scraping at the configured interval', async () => {
    // Two more samples than now, at 1 s intervals: polls, no fixed sleep.
    const first = await prometheus.waitFor('helper_selftest_scrapes_total', (v) => v.length > 0);
    const start = first[0]?.value ?? 0;
    await prometheus.waitFor('helper_selftest_scrapes_total', (v) => (v[0]?.value ?? 0) >= start + 2);
  });

  it('returns scalars as one sample and +Inf as Infinity', async () => {
    expect((await prometheus.query('scalar(vector(7))')).map((s) => s.value)).toEqual([7]);
    expect((await prometheus.query('vector(1) / 0')).map((s) => s.value)).toEqual([Infinity]);
  });

  it('rejects a query Prometheus cannot parse, naming the error', async () => {
    await expect(prometheus.query('sum by (route')).rejects.toThrow(/bad_data|parse error/);
  });

  it('rejects waitFor with the last result when the predicate never holds', async () => {
    await expect(prometheus.waitFor('vector(3)', (v) => v[0]?.value === 4, 300)).rejects.toThrow(/timed out.*"value":3/);
  });

  it('stops the process on close(), and a second close() is harmless', async () => {
    const other = await startPrometheus({ targets: [address] });
    expect(other.url).not.toBe(prometheus.url);
    await other.close();
    await other.close();
    await expect(fetch(`${other.url}/-/ready`)).rejects.toThrow();
  });
});
