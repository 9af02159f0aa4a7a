import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { REQUIRED_FIELDS, type ClientAuthMethod } from './client-auth.js';
import { credentialField } from './guards.js';
import { ASSERTION_ALGORITHMS, readSigningKey } from './jwt-assertion.js';

/** One value or a list, held as one space-separated string (scope tokens and URIs hold no spaces). */
const oneOrMany = (what: string) =>
  z
    .union([credentialField.required, z.array(credentialField.required).min(1, `must list at least one ${what}`)], { error: `expected a ${what} or a list of them` })
    .superRefine((value, ctx) => {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (Array.isArray(value) && /\s/.test(item)) ctx.addIssue({ code: 'custom', message: `each ${what} in the list must be one word without spaces, got "${item}"` });
      }
    })
    .transform((value) => (Array.isArray(value) ? value.join(' ') : value))
    .optional();

const absoluteUri = z.string().superRefine((value, ctx) => {
  for (const item of value.split(' ').filter(Boolean)) {
    // RFC 8707 §2: an absolute URI without a fragment.
    if (!URL.canParse(item) || new URL(item).hash !== '') ctx.addIssue({ code: 'custom', message: `each resource must be an absolute URI without a fragment (RFC 8707), got "${item}"` });
  }
});

function readable(path: string, parse: (text: string) => unknown): string | undefined {
  try {
    parse(readFileSync(path, 'utf8'));
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? `cannot be parsed as PEM (${(error as Error).message})` : `cannot read ${path} (${code}); mount it there or fix the path`;
  }
}

/** The `credentials` block of an oauth2 route, for its client-authentication method. */
export function oauth2Credentials(method: ClientAuthMethod) {
  return z
    .strictObject({
      clientId: credentialField.required,
      clientSecret: credentialField.optional,
      privateKey: credentialField.optional,
      keyId: credentialField.optional,
      algorithm: credentialField.optional,
      assertionAudience: credentialField.optional,
      certFile: credentialField.optional,
      keyFile: credentialField.optional,
      scope: oneOrMany('scope'),
      resource: oneOrMany('resource').pipe(absoluteUri.optional()),
      audience: credentialField.optional,
      refreshToken: credentialField.optional,
      redirectUri: credentialField.optional,
    })
    .superRefine((value, ctx) => {
      for (const key of REQUIRED_FIELDS[method]) {
        if (value[key as keyof typeof value] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `is required for clientAuth ${method}` });
      }
      const algorithms: readonly string[] = method === 'private_key_jwt' || method === 'client_secret_jwt' ? ASSERTION_ALGORITHMS[method] : [];
      if (value.algorithm !== undefined && !algorithms.includes(value.algorithm)) {
        ctx.addIssue({ code: 'custom', path: ['algorithm'], message: algorithms.length === 0 ? `applies only to clientAuth client_secret_jwt or private_key_jwt, not ${method}` : `expected one of ${algorithms.join(', ')} for ${method}` });
      }
      if (method === 'private_key_jwt' && value.privateKey !== undefined) {
        try {
          readSigningKey(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: ['privateKey'], message: `${(error as Error).message.replace(/^error:\S+:/, '')}: expected a PEM private key or a private JWK` });
        }
      }
      if (method !== 'tls_client_auth' && value.keyFile !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['keyFile'], message: `applies only to clientAuth tls_client_auth, not ${method}; remove it` });
      }
      if (method === 'private_key_jwt' && value.certFile !== undefined) {
        const message = readable(value.certFile, (text) => new X509Certificate(text));
        if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['certFile'], message });
      }
      if (method === 'tls_client_auth') {
        const problems = {
          certFile: value.certFile === undefined ? undefined : readable(value.certFile, (text) => new X509Certificate(text)),
          keyFile: value.keyFile === undefined ? undefined : readable(value.keyFile, (text) => createPrivateKey(text)),
        };
        for (const [key, message] of Object.entries(problems)) if (message !== undefined) ctx.addIssue({ code: 'custom', path: [key], message });
      }
    });
}
