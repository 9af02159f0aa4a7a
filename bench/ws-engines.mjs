// A small measurement behind the WebSocket engine choice (src/proxy/websocket.ts): upgrade
// handshakes and message round trips through http-proxy-3 and through undici's upgrade on a
// Pool, against a direct connection. Run: node bench/ws-engines.mjs (Node 26: npm run -s node first).
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { Pool } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';

const HANDSHAKES = Number(process.env.HANDSHAKES ?? 300);
const MESSAGES = Number(process.env.MESSAGES ?? 20_000);

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${server.address().port}`)));

const echo = createServer();
const wss = new WebSocketServer({ server: echo });
wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
const upstream = await listen(echo);

const viaHttpProxy3 = createServer();
const proxy = createProxyServer({ ws: true, target: `http://${upstream}` });
proxy.on('error', () => undefined);
viaHttpProxy3.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));

const viaUndici = createServer();
const pool = new Pool(`http://${upstream}`, { connections: 128 });
viaUndici.on('upgrade', (req, socket, head) => {
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (name !== 'connection' && name !== 'upgrade' && name !== 'host') headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  pool.dispatch({ path: req.url, method: 'GET', headers, upgrade: 'websocket' }, {
    onRequestUpgrade(_c, _s, resHeaders, up) {
      let head101 = 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n';
      for (const [k, v] of Object.entries(resHeaders)) if (k !== 'connection') head101 += `${k}: ${v}\r\n`;
      socket.write(`${head101}\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket).pipe(up);
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    },
    onRequestStart() {},
    onResponseStart() {},
    onResponseError() { socket.destroy(); },
  });
});

const targets = { direct: upstream, 'http-proxy-3': await listen(viaHttpProxy3), 'undici upgrade': await listen(viaUndici) };

const open = (address) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${address}/`);
  ws.once('open', () => resolve(ws));
  ws.once('error', reject);
});

async function handshakes(address) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < HANDSHAKES; i += 1) (await open(address)).terminate();
  return Number(process.hrtime.bigint() - started) / 1e6 / HANDSHAKES;
}

async function roundTrips(address) {
  const ws = await open(address);
  const payload = Buffer.alloc(64, 1);
  const started = process.hrtime.bigint();
  await new Promise((resolve) => {
    let left = MESSAGES;
    ws.on('message', () => (--left === 0 ? resolve() : ws.send(payload)));
    ws.send(payload);
  });
  ws.terminate();
  return Number(process.hrtime.bigint() - started) / 1e3 / MESSAGES;
}

for (const address of Object.values(targets)) await handshakes(address); // warm up
for (const [name, address] of Object.entries(targets)) {
  const handshake = await handshakes(address);
  const rtt = await roundTrips(address);
  console.log(`${name.padEnd(15)} handshake ${handshake.toFixed(3)} ms   round trip ${rtt.toFixed(1)} µs`);
}
await pool.close();
process.exit(0);
