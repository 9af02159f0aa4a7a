// A small measurement behind "headers on time" (src/proxy/forward.ts): does flushing the head of
// small answers cost anything? A bare node:http + undici Pool.stream forwarder three ways: never
// flush, always res.flushHeaders(), or flush on the next tick only when no body chunk followed
// (what the sidecar does). Reports req/s and socket writes per answer.
// Run: node bench/flush-cost.mjs (Node 26: npm run -s node first).
import { createServer } from 'node:http';
import { Pool } from 'undici';

const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));

const upstream = await listen(createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok')));
const pool = new Pool(upstream, { connections: 64 });

function flushIfPending(res) {
  if (!res._headerSent && !res.destroyed) res.flushHeaders();
}
let writes = 0;
let counting = false;
const mode = { current: 'never' };
const forwarder = createServer((req, res) => {
  if (counting) {
    const socket = res.socket;
    const write = socket.write;
    socket.write = function (...args) {
      writes += 1;
      return write.apply(this, args);
    };
    res.once('finish', () => (socket.write = write));
  }
  pool.stream({ path: req.url, method: req.method, headers: {} }, ({ statusCode, headers }) => {
    res.writeHead(statusCode, headers);
    if (mode.current === 'always') res.flushHeaders();
    else if (mode.current === 'next tick') process.nextTick(flushIfPending, res);
    return res;
  }).catch(() => res.destroy());
});
const target = await listen(forwarder);
const client = new Pool(target, { connections: 64 });

async function run(n) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next++ < n) await (await client.request({ path: '/', method: 'GET' })).body.text();
  }));
  return n / (Number(process.hrtime.bigint() - started) / 1e9);
}

if (process.env.MODE) {
  // One mode alone, for `strace -f -c -e trace=write,writev`: the syscall counts tell writes apart.
  mode.current = process.env.MODE;
  await run(REQUESTS);
  await client.close();
  await pool.close();
  process.exit(0);
}
const modes = ['never', 'always', 'next tick'];
const rates = Object.fromEntries(modes.map((m) => [m, []]));
mode.current = 'never';
await run(REQUESTS / 4); // warm up
for (let round = 0; round < ROUNDS; round += 1) {
  for (const m of modes) {
    mode.current = m;
    rates[m].push(await run(REQUESTS));
  }
}
for (const m of modes) {
  mode.current = m;
  counting = true;
  writes = 0;
  await run(1000);
  counting = false;
  const sorted = [...rates[m]].sort((a, b) => a - b);
  console.log(`${m.padEnd(10)} median ${Math.round(sorted[Math.floor(sorted.length / 2)])} req/s (runs: ${sorted.map(Math.round).join(', ')})   socket writes per answer ${(writes / 1000).toFixed(2)}`);
}
await client.close();
await pool.close();
process.exit(0);
