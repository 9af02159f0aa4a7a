// A recording pass-through in front of an emulator: the sidecar's tokenUrl and upstream point
// at taps, which forward byte for byte (faults included: resets are relayed as resets, hangs as
// hangs) and write down what crossed them. That gives the fault report its ground truth:
// every access and refresh token the token endpoint handed out (so the secrets test knows what
// must never leak), and every API request that arrived without a live token.
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface IssuedToken {
  /** When the tap relayed the answer: no earlier than the provider issued it. */
  readonly seenAt: number;
  /** seenAt + expires_in, so never before the token's real expiry. */
  readonly expiresAt: number;
}

export type UnauthenticatedReason = 'no token' | 'unknown token' | 'expired token';

/**
 * What an emulator's taps saw. An **unauthenticated forward** is an API request that reached the
 * upstream without `Authorization: Bearer <t>` where `t` is an access token the token endpoint
 * issued (as relayed by the token tap) and whose `expires_in` had not yet run out when the
 * request arrived (`expires_in` absent: the emulator's own lifetime). Tokens the test revoked on
 * purpose (expireAllAccessTokens) and the `unauthorized` API fault are not the sidecar's doing
 * and do not count; a bearer from a malformed answer (null token, negative expires_in) does.
 */
export class Ledger {
  readonly accessTokens = new Map<string, IssuedToken>();
  readonly refreshTokens = new Set<string>();
  readonly unauthenticated: Array<{ at: number; reason: UnauthenticatedReason }> = [];
  apiForwards = 0;
  tokenAnswers = 0;

  /** `lifetimeMs`: what the emulator really gives a token when its answer omits expires_in. */
  constructor(readonly lifetimeMs: number) {}

  recordTokenAnswer(text: string, at: number): void {
    this.tokenAnswers += 1;
    const fields = readFields(text);
    if (fields.refreshToken !== undefined) this.refreshTokens.add(fields.refreshToken);
    if (fields.accessToken === undefined) return;
    const expiresIn = fields.expiresIn;
    const lifetimeMs = expiresIn === undefined ? this.lifetimeMs : typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? expiresIn * 1000 : -1;
    this.accessTokens.set(fields.accessToken, { seenAt: at, expiresAt: at + lifetimeMs });
  }

  checkForward(authorization: string | undefined, at: number): void {
    this.apiForwards += 1;
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const issued = bearer === undefined ? undefined : this.accessTokens.get(bearer);
    const reason: UnauthenticatedReason | undefined = bearer === undefined ? 'no token' : issued === undefined ? 'unknown token' : at >= issued.expiresAt ? 'expired token' : undefined;
    if (reason !== undefined) this.unauthenticated.push({ at, reason });
  }

  /** Every token value that crossed the taps: none may appear anywhere the app or an operator looks. */
  secrets(): string[] {
    return [...this.accessTokens.keys(), ...this.refreshTokens];
  }
}

/** Access token, refresh token and expires_in of a token answer, also from a truncated prefix. */
function readFields(text: string): { accessToken?: string; refreshToken?: string; expiresIn?: unknown } {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  const pick = (names: string[]): unknown => {
    for (const name of names) {
      if (body !== undefined && name in body) return body[name];
      const match = new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|-?[0-9.]+)`).exec(text);
      if (match) return JSON.parse(match[1] as string) as unknown;
    }
    return undefined;
  };
  const access = pick(['access_token', 'accessToken']);
  const refresh = pick(['refresh_token', 'refreshToken']);
  return {
    ...(typeof access === 'string' && access.length > 0 ? { accessToken: access } : {}),
    ...(typeof refresh === 'string' && refresh.length > 0 ? { refreshToken: refresh } : {}),
    expiresIn: pick(['expires_in', 'expiresIn']) ?? undefined,
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) result[name] = value;
  return result;
}

function reset(socket: Socket | null): void {
  if (!socket) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

const CAPTURE_LIMIT = 64 * 1024;

/** One listener forwarding everything to `origin`; `role` says what it records. */
export class Tap {
  readonly #origin: URL;
  readonly #ledger: Ledger;
  readonly #role: 'token' | 'api';
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 512 });
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(origin: string, ledger: Ledger, role: 'token' | 'api') {
    this.#origin = new URL(origin);
    this.#ledger = ledger;
    this.#role = role;
  }

  static async start(origin: string, ledger: Ledger, role: 'token' | 'api'): Promise<Tap> {
    const tap = new Tap(origin, ledger, role);
    await tap.open();
    return tap;
  }

  /** http://127.0.0.1:port of the tap; append the emulator's paths. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Same path on the tap as `emulatorUrl` has on the emulator. */
  rebase(emulatorUrl: string): string {
    const url = new URL(emulatorUrl);
    return `${this.url}${url.pathname}${url.search}`;
  }

  /** Listens (again, on the same port after close()): a closed tap is a closed port. */
  async open(): Promise<void> {
    const server = createServer((req, res) => this.#forward(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async destroy(): Promise<void> {
    await this.close();
    this.#agent.destroy();
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    if (this.#role === 'api') this.#ledger.checkForward(req.headers.authorization, Date.now());
    const upstream = httpRequest(
      { host: this.#origin.hostname, port: this.#origin.port, method: req.method, path: req.url, headers: forwardable(req.headers), agent: this.#agent },
      (answer) => {
        const status = answer.statusCode ?? 502;
        res.writeHead(status, answer.statusMessage, forwardable(answer.headers));
        const captured: Buffer[] = [];
        let capturedBytes = 0;
        answer.on('data', (chunk: Buffer) => {
          if (capturedBytes < CAPTURE_LIMIT) {
            captured.push(chunk);
            capturedBytes += chunk.length;
          }
          if (!res.write(chunk)) {
            answer.pause();
            res.once('drain', () => answer.resume());
          }
        });
        const record = () => {
          if (this.#role === 'token' && status >= 200 && status < 300) this.#ledger.recordTokenAnswer(Buffer.concat(captured).toString('utf8'), Date.now());
        };
        answer.on('end', () => {
          record();
          res.end();
        });
        // The provider cut its answer: cut ours the same way (what it sent so far still counts).
        answer.on('aborted', () => {
          record();
          reset(req.socket);
        });
        answer.on('error', () => reset(req.socket));
      },
    );
    upstream.on('error', () => reset(req.socket));
    // The sidecar gave up (timeout, client gone): give up upstream too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
