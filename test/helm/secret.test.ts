// templates/secret.yaml and the credentials/existingSecret rules.
import { describe, expect, it } from 'vitest';
import { FIXTURES, dataOf, only, podTemplate, render, renderError, volume } from './kit.js';

const full = `${FIXTURES}full-values.yaml`;

describe('Secret', () => {
  it('is not rendered without credentials', async () => {
    expect((await render()).filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('holds each credentials key base64-encoded', async () => {
    const secret = only(await render({ valuesFiles: [full] }), 'Secret');
    expect(secret.type).toBe('Opaque');
    const decoded = Object.fromEntries(Object.entries(dataOf(secret)).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(decoded).toEqual({
      'covver-client-secret': 'covver-s3cret',
      'cobee-client-id': 'cobee-client',
      'cobee-client-secret': 'cobee-s3cret',
      'light-client-id': 'light-client',
      'light-client-secret': 'light-s3cret',
      'light-refresh-token': 'light-refresh-1',
    });
  });

  it('is replaced by existingSecret, which the pod mounts instead', async () => {
    const objects = await render({ valuesFiles: [`${FIXTURES}existing-secret-values.yaml`] });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const pod = podTemplate(only(objects, 'Deployment'));
    expect(volume(pod.spec, 'token-sidecar-secrets').secret?.secretName).toBe('payments-oauth');
  });

  it('rejects credentials together with existingSecret', async () => {
    expect(await renderError({ valuesFiles: [full], set: ['existingSecret=other'] })).toMatch(/credentials and existingSecret are exclusive/);
  });

  it('rejects a ${file:...} reference to a key credentials does not have', async () => {
    const stderr = await renderError({
      valuesFiles: [full],
      set: ['config.routes.covver.credentials.clientSecret=${file:/var/run/secrets/token-sidecar/covver-secret-typo}'],
    });
    expect(stderr).toMatch(/credentials has no key "covver-secret-typo"/);
  });
});
