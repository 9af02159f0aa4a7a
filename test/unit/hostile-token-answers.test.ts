// A hostile token endpoint, answered by the token client: a real HTTP server on 127.0.0.1 port 0
// sends each answer of the corpus; the client must refuse header-breaking tokens and foreign
// token types as malformed (transient), read only known OAuth error codes, and never repeat what
// the request sent (client secret, refresh token) in a message.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/providers/registry.js';
import type { ProviderDialect, TokenHttpRequest } from '../../src/providers/types.js';
import { TokenClient, TokenEndpointError } from '../../src/token/client.js';

const SECRET = 'client-secret-7f3a9c1e5b';
const REFRESH = 'refresh-token-2d8e4b6a0c';

/** What the fake answers next: a status and a body (a function of the request's body and headers). */
let answer: (sent: { body: string; headers: IncomingMessage['headers'] }) => { status: number; body: string } = () => ({ status: 200, body: '{}' });
let server: Server;
let url: string;
const dispatcher = new Agent();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { status, body } = answer({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(async () => {
  await dispatcher.close();
  await new Promise((resolve) => server.close(resolve));
});

const client = new TokenClient({ timeoutMs: 2_000 });
const credentials = { clientId: 'client-id', clientSecret: SECRET };
const urls = () => ({ tokenUrl: url, refreshUrl: url });

/** Each provider's refresh (or initial) grant: every one sends the client secret or the refresh token. */
function grantOf(dialect: ProviderDialect): TokenHttpRequest {
  return dialect.refreshGrant?.(credentials, REFRESH, urls()) ?? (dialect.initialGrant(credentials, urls()) as TokenHttpRequest);
}

async function failureOf(dialect: ProviderDialect, respond: typeof answer, options: { client?: TokenClient } = {}): Promise<TokenEndpointError> {
  answer = respond;
  const error = await (options.client ?? client).send(grantOf(dialect), dialect, dispatcher).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TokenEndpointError);
  return error as TokenEndpointError;
}

const snake = (fields: Record<string, unknown>) => () => ({ status: 200, body: JSON.stringify({ expires_in: 600, ...fields }) });

describe('a token is header material', () => {
  it.each([
    ['CR LF', 'abc\r\nX-Injected: yes'],
    ['LF', 'abc\ndef'],
    ['NUL', 'abc\u0000def'],
    ['a control character', 'abc\u0007def'],
    ['DEL', 'abc\u007fdef'],
    ['a space', 'abc def'],
    ['non-Latin-1', 'abc\u2603def'],
    ['Latin-1 beyond ASCII', 'abc\u00e9def'],
    ['a quote', 'abc"def'],
    ['a comma', 'abc,def'],
  ])('an access token with %s is malformed, transient, and is not shown', async (_name, token) => {
    const error = await failureOf(PROVIDERS.light, snake({ access_token: token, token_type: 'Bearer' }));
    expect(error).toMatchObject({ kind: 'transient', reason: 'malformed' });
    expect(error.message).toContain('"access_token" holds characters a Bearer header cannot carry');
    expect(error.message).not.toContain('abc');
  });

  it('a 1 MB access token is malformed (refresh.maxTokenSize, 16 KiB by default), answered in bounded time', async () => {
    const started = performance.now();
    const error = await failureOf(PROVIDERS.light, snake({ access_token: 'a'.repeat(1_000_000) }));
    expect(error).toMatchObject({ kind: 'transient', reason: 'malformed' });
    expect(error.message).toContain('the access token is 1000000 bytes, over refresh.maxTokenSize (16384)');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('the size cap is configurable, and a token at the cap passes', async () => {
    const small = new TokenClient({ timeoutMs: 2_000, maxTokenBytes: 100 });
    expect((await failureOf(PROVIDERS.light, snake({ access_token: 'a'.repeat(101) }), { client: small })).message).toContain('101 bytes, over refresh.maxTokenSize (100)');
    answer = snake({ access_token: 'a'.repeat(100) });
    expect((await small.send(grantOf(PROVIDERS.light), PROVIDERS.light, dispatcher)).accessToken).toHaveLength(100);
  });

  it.each([
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
    ['base64 with padding', 'YWJjZGVm+/=='],
    ['every b64token character', 'AZaz09-._~+/'],
  ])('%s passes', async (_name, token) => {
    answer = snake({ access_token: token });
    expect((await client.send(grantOf(PROVIDERS.light), PROVIDERS.light, dispatcher)).accessToken).toBe(token);
  });
});

describe('token_type: absent or Bearer, anything else refused and named', () => {
  it.each([undefined, null, 'Bearer', 'bearer', 'BEARER', 'bEaReR'])('snake_case token_type %j is accepted', async (type) => {
    answer = snake({ access_token: 'tok', token_type: type });
    expect((await client.send(grantOf(PROVIDERS.petje), PROVIDERS.petje, dispatcher)).accessToken).toBe('tok');
  });

  it.each(['mac', 'DPoP', 'N_A', 'Basic', 'Bearer ', ''])('snake_case token_type %j is malformed and named', async (type) => {
    const error = await failureOf(PROVIDERS.petje, snake({ access_token: 'tok', token_type: type }));
    expect(error).toMatchObject({ kind: 'transient', reason: 'malformed' });
    expect(error.message).toContain(`"token_type" must be "Bearer" (the only type the sidecar injects), got ${JSON.stringify(type)}`);
  });

  it('a token_type that is not a string is malformed', async () => {
    const error = await failureOf(PROVIDERS.light, snake({ access_token: 'tok', token_type: 7 }));
    expect(error.message).toContain('"token_type" must be "Bearer" when present, got a number');
  });

  it('camelCase tokenType (Cobee) is checked the same way', async () => {
    const error = await failureOf(PROVIDERS.cobee, () => ({ status: 200, body: JSON.stringify({ accessToken: 'tok', tokenType: 'mac', expiresIn: 60 }) }));
    expect(error.message).toContain('"tokenType" must be "Bearer"');
  });

  it('a token_type reflecting the client secret or refresh token is shown scrubbed and bounded', async () => {
    for (const dialect of [PROVIDERS.light, PROVIDERS.oauth2]) {
      const error = await failureOf(dialect, ({ body, headers }) => ({
        status: 200,
        body: JSON.stringify({ access_token: 'tok', token_type: `mac ${body} ${headers.authorization ?? ''} ${Buffer.from((headers.authorization ?? 'Basic ').slice(6), 'base64').toString()} ${'x'.repeat(500)}` }),
      }));
      expect(error.message).toContain('[redacted]');
      for (const value of [SECRET, REFRESH, encodeURIComponent(SECRET)]) expect(error.message).not.toContain(value);
      expect(error.message.length).toBeLessThan(300);
    }
  });

  it('control characters of a token_type are masked', async () => {
    const error = await failureOf(PROVIDERS.light, snake({ access_token: 'tok', token_type: 'mac\r\nX-Log-Forged: 1' }));
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).toContain('"mac??X-Log-Forged: 1"');
  });
});

describe('error codes: only RFC 6749 §5.2 and the providers\' documented ones', () => {
  const reject = (body: Record<string, unknown>, status = 400) => () => ({ status, body: JSON.stringify(body) });

  it.each([
    ['light', { error: 'invalid_grant' }, 'invalid_grant'],
    ['petje', { error: 'invalid_client' }, 'invalid_client'],
    ['oauth2', { error: 'invalid_target' }, 'invalid_target'],
    ['covver', { message: 'm', errorCode: 'INVALID_CLIENT_CREDENTIALS', error: 'Unauthorized', statusCode: 400 }, 'INVALID_CLIENT_CREDENTIALS'],
    ['cobee', { code: 'validation_error', message: 'body: ...' }, 'validation_error'],
    ['light', { error: 'made_up_code' }, 'http_400'],
    ['light', { error: 'INVALID_GRANT' }, 'http_400'],
    ['petje', { status: 400, title: 'Bad Request', detail: 'Invalid grant' }, 'http_400'],
    ['cobee', { message: 'Unauthorized' }, 'http_400'],
    ['covver', { message: 'm', errorCode: 'SOMETHING_ELSE', error: 'Bad Request' }, 'http_400'],
  ] as const)('%s %j → reason %s', async (name, body, reason) => {
    expect((await failureOf(PROVIDERS[name], reject(body))).reason).toBe(reason);
  });

  it.each(['light', 'petje', 'cobee', 'covver', 'oauth2'] as const)('%s: an error code reflecting the client secret or refresh token is http_<status>, and no message holds it', async (name) => {
    const reflect = ({ body, headers }: { body: string; headers: IncomingMessage['headers'] }) => {
      const sent = `${body} ${Buffer.from((headers.authorization ?? 'Basic ').slice(6), 'base64').toString()}`;
      const echoed = sent.includes(SECRET) ? SECRET : REFRESH;
      return { status: 401, body: JSON.stringify({ error: echoed, errorCode: echoed, code: echoed, title: echoed, message: echoed }) };
    };
    const error = await failureOf(PROVIDERS[name], reflect);
    expect(error).toMatchObject({ kind: 'rejected', reason: 'http_401' });
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain(REFRESH);
  });
});
