// The http-proxy-3 reference: a plain node:http server forwarding on a keep-alive agent,
// adding a fixed Authorization header and stripping the route prefix, like the sidecar does.
// Usage: node bench/http-proxy-3-server.mjs TARGET_ORIGIN PREFIX   (AUTHORIZATION in the environment)
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const [target, prefix = '/'] = process.argv.slice(2);
if (!target) {
  process.stderr.write('usage: http-proxy-3-server.mjs TARGET_ORIGIN PREFIX\n');
  process.exit(2);
}
const authorization = process.env.AUTHORIZATION ?? '';

const proxy = createProxyServer({
  target,
  agent: new http.Agent({ keepAlive: true }),
  changeOrigin: true,
  headers: { authorization },
});
proxy.on('error', (error, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'upstream_unavailable', message: error.message }));
  } else {
    res?.destroy?.();
  }
});

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (prefix !== '/' && req.url?.startsWith(prefix)) req.url = req.url.slice(prefix.length - 1);
  proxy.web(req, res);
});
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'listening', proxy: `${address}:${port}` })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
