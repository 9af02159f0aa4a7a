// The Node floor references (issue 11), as child processes on the same Node binary as the sidecar:
//   node bench/floor-server.cjs server                           a bare node:http server: answers 200 "ok"
//   node bench/floor-server.cjs forwarder UPSTREAM PREFIX        node:http + undici Pool.stream: strips PREFIX,
//                                                                sets $AUTHORIZATION, streams the answer back
// Each prints one JSON line {"event":"listening","proxy":"host:port"} (what bench/lib/proxies.mjs waits for).
// PORT (default 0) picks the port, so the start-up measurement can poll a known one.
// CommonJS on purpose: on Node 26 an ES module entry alone costs ~15 MB more RSS than this
// (measured: 62 against 47 MB for the same server), and the floor should be the leanest one.
'use strict';
const { createServer } = require('node:http');

const [mode, upstream, prefix = '/'] = process.argv.slice(2);
let handler;
if (mode === 'server') {
  handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
} else if (mode === 'forwarder') {
  const { Pool } = require('undici');
  const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 30_000 });
  const authorization = process.env.AUTHORIZATION ?? '';
  const strip = prefix.length - 1;
  handler = (req, res) => {
    const headers = { ...req.headers, authorization };
    delete headers.host;
    delete headers.connection;
    pool
      .stream({ path: req.url.slice(strip), method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, ({ statusCode, headers: answer }) => {
        delete answer.connection;
        delete answer['keep-alive'];
        delete answer['transfer-encoding'];
        res.writeHead(statusCode, answer);
        return res;
      })
      .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  };
} else {
  throw new Error('usage: floor-server.cjs server | forwarder UPSTREAM PREFIX');
}
const server = createServer({ keepAliveTimeout: 5_000 }, handler);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'listening', proxy: `${address}:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
