import { createHmac, randomBytes } from 'node:crypto';

/** Mints JWT-shaped strings (base64url header.payload.signature, HS256 under a per-emulator key). */
export class JwtMinter {
  private readonly key = randomBytes(32);

  mint(payload: Record<string, unknown>): string {
    const header = encode({ alg: 'HS256', typ: 'JWT' });
    const body = encode(payload);
    const signature = createHmac('sha256', this.key).update(`${header}.${body}`).digest('base64url');
    return `${header}.${body}.${signature}`;
  }
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An opaque random string, e.g. for refresh tokens and codes. */
export function opaque(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}
