import { connect } from 'node:net';

/** Sends raw bytes to host:port of `url` and resolves with everything the server answers until it closes. */
export function rawHttp(url: string, text: string, options: { timeoutMs?: number } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = '';
    socket.setTimeout(options.timeoutMs ?? 10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', (error) => (answer ? resolve(answer) : reject(error)));
    socket.on('close', () => resolve(answer));
    socket.write(text);
  });
}

/** The status code and JSON-or-text body of a raw answer. */
export function parseRaw(answer: string): { status: number; headers: string; body: string } {
  const split = answer.indexOf('\r\n\r\n');
  const head = split === -1 ? answer : answer.slice(0, split);
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body: split === -1 ? '' : answer.slice(split + 4) };
}
