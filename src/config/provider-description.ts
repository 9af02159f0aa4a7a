import { z } from 'zod';

// A token dialect described as data (config `providers.<name>`, and the built-in catalog in
// providers/catalog.ts): request encoding and fields, the answer's field names, the refresh
// grant and its URL, error fields, and how the token is sent. providers/described.ts runs it.

/** `{name}`: a credential field (or the grant's own value); `{name?}`: left out when not set. */
const PLACEHOLDER = /^\{([A-Za-z][A-Za-z0-9_]*)(\?)?\}$/;
const FIELD_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** Headers the proxy owns or drops: a token sent in one of them would never arrive. */
const UNUSABLE_HEADERS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect', 'content-length', 'content-type', 'cookie']);

export interface Placeholder {
  readonly name: string;
  readonly optional: boolean;
}

/** The placeholder a field value is, or undefined for a literal. */
export function placeholderOf(value: string): Placeholder | undefined {
  const match = PLACEHOLDER.exec(value);
  return match ? { name: match[1] as string, optional: match[2] === '?' } : undefined;
}

const fieldValue = z.string({ error: 'expected a string: a literal, "{credentialField}" or "{credentialField?}"' }).superRefine((value, ctx) => {
  if (placeholderOf(value) === undefined && /[{}]/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `a placeholder must fill the whole value: write "{name}" (or "{name?}" for an optional field), got "${value}"` });
  }
});

const fields = z
  .record(z.string().regex(FIELD_NAME, 'field names are 1-64 letters, digits, "_", ".", ":" or "-"'), fieldValue, { error: 'expected a mapping of request field names to values' })
  .refine((value) => Object.keys(value).length > 0, 'must name at least one field');

/** Placeholders a grant's fields may use besides credentials, and those it must use. */
function grantFields(own: readonly string[], required: readonly string[]) {
  return fields.superRefine((value, ctx) => {
    const used = new Map(Object.entries(value).flatMap(([field, template]) => {
      const placeholder = placeholderOf(template);
      return placeholder ? [[placeholder.name, { field, ...placeholder }] as const] : [];
    }));
    for (const name of required) {
      if (!used.has(name)) ctx.addIssue({ code: 'custom', message: `must carry "{${name}}" in one field (the ${name === 'code' ? 'authorization code' : 'current refresh token'})` });
      else if (used.get(name)?.optional) ctx.addIssue({ code: 'custom', path: [used.get(name)?.field as string], message: `"{${name}}" is always sent; write it without "?"` });
    }
    for (const reserved of ['refreshToken', 'code'].filter((name) => !own.includes(name))) {
      const entry = used.get(reserved);
      if (entry) ctx.addIssue({ code: 'custom', path: [entry.field], message: `"{${reserved}}" is the grant's own value: use it in ${reserved === 'code' ? 'authorizationCode.fields' : 'refresh.fields'} only` });
    }
  });
}

const absoluteUrl = z.string({ error: 'expected an absolute http(s) URL' }).refine((value) => /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(value), 'expected an absolute http(s) URL without query or fragment');

export const providerDescriptionSchema = z
  .strictObject({
    tokenUrl: absoluteUrl.optional(),
    encoding: z.enum(['json', 'form'], { error: 'expected json or form' }).default('form'),
    grant: z.strictObject({ fields: grantFields([], []) }).optional(),
    refresh: z
      .strictObject({
        url: z
          .string({ error: 'expected a URL reference' })
          .refine((value) => !/[?#\s]/.test(value), 'must not have a query, fragment or spaces; a relative one ("refresh-token", "/oauth/refresh") is resolved against the token URL')
          .optional(),
        fields: grantFields(['refreshToken'], ['refreshToken']),
        fallBackToGrant: z.boolean({ error: 'expected true or false' }).default(false),
      })
      .optional(),
    authorizationCode: z.strictObject({ fields: grantFields(['code'], ['code']) }).optional(),
    response: z
      .strictObject({
        accessToken: z.string().regex(FIELD_NAME, 'expected a field name').default('access_token'),
        expiresIn: z.string().regex(FIELD_NAME, 'expected a field name').default('expires_in'),
        refreshToken: z.string().regex(FIELD_NAME, 'expected a field name').default('refresh_token'),
        // Optional: when named, an answer whose token type is not a string is malformed.
        tokenType: z.string().regex(FIELD_NAME, 'expected a field name').optional(),
      })
      .default({ accessToken: 'access_token', expiresIn: 'expires_in', refreshToken: 'refresh_token' }),
    errorFields: z.array(z.string().regex(FIELD_NAME, 'expected a field name'), { error: 'expected a list of field names' }).min(1, 'must name at least one field').default(['error']),
    send: z
      .strictObject({
        header: z
          .string({ error: 'expected an HTTP header name' })
          .regex(HEADER_NAME, 'expected an HTTP header name (letters, digits, "-")')
          .refine((value) => !UNUSABLE_HEADERS.has(value.toLowerCase()) && !value.toLowerCase().startsWith('x-token-sidecar-'), 'is a header the proxy owns or drops; use authorization or an API header such as x-api-key')
          .transform((value) => value.toLowerCase())
          .default('authorization'),
        scheme: z.string({ error: 'expected a scheme such as "Bearer", or "" for the bare token' }).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{0,32}$/, 'expected one word such as "Bearer" or "Token", or "" for the bare token').default('Bearer'),
      })
      .default({ header: 'authorization', scheme: 'Bearer' }),
  })
  .superRefine((value, ctx) => {
    if (value.grant === undefined && value.refresh === undefined) {
      ctx.addIssue({ code: 'custom', path: ['grant'], message: 'is required unless refresh is given: describe how a token is obtained (grant) or refreshed (refresh), or both' });
    }
    if (value.refresh?.fallBackToGrant && value.grant === undefined) {
      ctx.addIssue({ code: 'custom', path: ['refresh', 'fallBackToGrant'], message: 'needs a grant to fall back to; describe grant or remove fallBackToGrant' });
    }
    const names = Object.entries(value.response).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const seen = new Map<string, string>();
    for (const [role, name] of names) {
      const other = seen.get(name);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['response', role], message: `is the same field as response.${other}; give each its own field name` });
      seen.set(name, role);
    }
  });

export type ProviderDescriptionInput = z.input<typeof providerDescriptionSchema>;
export type ProviderDescription = z.output<typeof providerDescriptionSchema>;

/** Names of described providers: like route names, and none of the built-ins. */
export const DESCRIBED_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** The credential fields a description uses: required ones (token and refresh grants) and optional ones. */
export function credentialFieldsOf(description: ProviderDescription): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  const visit = (grantFields: Readonly<Record<string, string>> | undefined, reserved: string, requiredHere: boolean) => {
    for (const template of Object.values(grantFields ?? {})) {
      const placeholder = placeholderOf(template);
      if (placeholder === undefined || placeholder.name === reserved) continue;
      (requiredHere && !placeholder.optional ? required : optional).add(placeholder.name);
    }
  };
  visit(description.grant?.fields, '', true);
  visit(description.refresh?.fields, 'refreshToken', true);
  // Needed only by `token-sidecar authorize`: checked when the exchange is built.
  visit(description.authorizationCode?.fields, 'code', false);
  // The bootstrap refresh token (the store's newer one wins).
  if (description.refresh !== undefined) optional.add('refreshToken');
  for (const name of required) optional.delete(name);
  return { required: [...required], optional: [...optional] };
}
