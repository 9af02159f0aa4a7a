// The memory the stack's libraries take before any line of the sidecar (issue 11's idle-RSS target):
//   node bench/library-floor.mjs            a node:http server that loads and uses, once each, what
//                                           the sidecar's start needs: undici's Pool (one request: its
//                                           llhttp WebAssembly parser), zod (one parse), pino (one
//                                           line), prom-client (a registry with the default metrics,
//                                           one scrape), yaml (one parse), lru-cache
//   node bench/library-floor.mjs --bare     the same server alone (the benchmark's idle floor)
// Prints one JSON line with VmRSS, RssFile and RssAnon in MB, 3 s after the work, like the
// benchmark's idle measurement. Each library is loaded as its package exports it (no bundle).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout } from 'node:timers';

const require = createRequire(import.meta.url);
const bare = process.argv.includes('--bare');
const http = process.getBuiltinModule('node:http');
const kb = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);

const server = http.createServer((_req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', async () => {
  if (!bare) {
    const { Pool } = require('undici');
    const pool = new Pool(`http://127.0.0.1:${server.address().port}`);
    await (await pool.request({ path: '/', method: 'GET' })).body.text();
    await pool.close();
    const { z } = await import('zod');
    z.object({ a: z.string() }).parse({ a: 'x' });
    const pino = (await import('pino')).default;
    pino({}, { write() {} }).info('one line');
    const { Counter, Registry, collectDefaultMetrics } = require('prom-client');
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    new Counter({ name: 'one_total', help: 'one', registers: [registry] }).inc();
    await registry.metrics();
    (await import('yaml')).parse('a: 1');
    new (await import('lru-cache')).LRUCache({ max: 10 }).set('a', 1);
  }
  setTimeout(() => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const mb = (field) => Math.round(kb(status, field) / 102.4) / 10;
    process.stdout.write(`${JSON.stringify({ what: bare ? 'bare node:http server' : 'the libraries, used once each', node: process.version, rssMb: mb('VmRSS'), fileMb: mb('RssFile'), anonMb: mb('RssAnon') })}\n`);
    process.exit(0);
  }, 3_000);
});
