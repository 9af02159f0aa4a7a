// values.schema.json and the render-time checks: mistakes fail at helm time, not as a crashlooping pod.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART, render, renderError } from './kit.js';

const SCHEMA_ERROR = /values don't meet the specifications of the schema/;

describe('values.schema.json rejects', () => {
  const cases: [string, string[], RegExp][] = [
    ['a numeric image tag (--set image.tag=5)', ['image.tag=5'], /image\.tag: Invalid type\. Expected: string, given: integer/],
    ['an unknown top-level key', ['imageTag=1.0'], /Additional property imageTag is not allowed/],
    ['an unknown sidecar key', ['sidecar.nativ=false'], /Additional property nativ is not allowed/],
    ['an unknown probe key', ['sidecar.livenessProbe.path=/live'], /Additional property path is not allowed/],
    ['a non-boolean switch', ['sidecar.native=yes'], /sidecar\.native: Invalid type\. Expected: boolean/],
    ['an unknown log level', ['sidecar.logLevel=verbose'], /sidecar\.logLevel/],
    ['config without routes', ['config.routes=null'], /routes is required/],
    ['a route without upstream', ['config.routes.covver.provider=covver'], /upstream is required/],
    ['a provider that is not a name', ['config.routes.x.provider=Google Docs', 'config.routes.x.upstream=https://x.example'], /provider/],
    ['a store type the sidecar does not have', ['config.store.type=etcd'], /config\.store\.type/],
    ['an admin address without a port', ['config.admin=0.0.0.0'], /config\.admin/],
    ['an admin port name longer than 15 characters', ['sidecar.adminPortName=token-sidecar-admin'], /adminPortName/],
    ['a Secret key Kubernetes would refuse', ['credentials.bad/key=x'], /credentials/],
    ['an image pull policy typo', ['image.pullPolicy=always'], /image\.pullPolicy/],
  ];
  for (const [what, set, message] of cases) {
    it(what, async () => {
      const stderr = await renderError({ set });
      expect(stderr).toMatch(SCHEMA_ERROR);
      expect(stderr).toMatch(message);
    });
  }
});

describe('render-time checks reject', () => {
  it('a provider neither built in nor described under config.providers', async () => {
    expect(await renderError({ set: ['config.routes.x.provider=google', 'config.routes.x.upstream=https://x.example'] })).toMatch(/config\.routes\.x\.provider: expected covver, cobee, petje, light, oauth2 or a provider described under config\.providers, got "google"/);
  });

  it('a loopback admin listener (probes and Prometheus come from the pod IP)', async () => {
    expect(await renderError({ set: ['config.admin=127.0.0.1:9464'] })).toMatch(/config\.admin: "127\.0\.0\.1:9464" binds loopback/);
  });

  it('a port-0 admin listener', async () => {
    expect(await renderError({ set: ['config.admin=0.0.0.0:0'] })).toMatch(/config\.admin: port 0/);
  });

  it('a file store without a path', async () => {
    expect(await renderError({ set: ['config.store.type=file'] })).toMatch(/config\.store\.path: required when config\.store\.type is file/);
  });

  it('a relative file store path', async () => {
    expect(await renderError({ set: ['config.store.type=file', 'config.store.path=state.json'] })).toMatch(SCHEMA_ERROR);
  });
});

describe('values.schema.json accepts', () => {
  it('a config key it does not list (the sidecar is the authority on config)', async () => {
    await expect(render({ set: ['config.shutdownGrace=10s', 'config.upstream.connections=64'] })).resolves.toBeDefined();
  });

  it('a route whose provider is described under config.providers', async () => {
    const set = ['config.providers.acme.encoding=json', 'config.routes.acme.provider=acme', 'config.routes.acme.upstream=https://api.acme.example'];
    await expect(render({ set })).resolves.toBeDefined();
  });

  it('the `global` key a parent chart passes down', async () => {
    await expect(render({ set: ['global.imageRegistry=registry.example.com'] })).resolves.toBeDefined();
  });
});

describe('values.yaml', () => {
  const text = readFileSync(`${CHART}/values.yaml`, 'utf8');
  const schema = JSON.parse(readFileSync(`${CHART}/values.schema.json`, 'utf8')) as SchemaNode;

  interface SchemaNode {
    type?: string | string[];
    properties?: Record<string, SchemaNode>;
    additionalProperties?: boolean | SchemaNode;
  }

  /**
   * Key lines of values.yaml that have no comment on the line or right above it. Keys inside a
   * value that is a Kubernetes object passed through verbatim (resources, securityContext) are
   * documented by the comment on that value.
   */
  function uncommentedKeys(): string[] {
    const verbatim = new Set(['sidecar.resources', 'sidecar.securityContext', 'app.resources', 'app.securityContext', 'app.podSecurityContext']);
    const stack: { indent: number; path: string }[] = [];
    const missing: string[] = [];
    let previous = '';
    for (const line of text.split('\n')) {
      const key = /^(\s*)([A-Za-z0-9_.-]+):(\s|$)/.exec(line);
      if (key !== null) {
        const indent = key[1]?.length ?? 0;
        while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
        const parent = stack[stack.length - 1]?.path;
        const path = parent === undefined ? String(key[2]) : `${parent}.${String(key[2])}`;
        const insideVerbatim = stack.some((s) => verbatim.has(s.path));
        const commented = previous.trim().startsWith('#') || / #/.test(line);
        if (!commented && !insideVerbatim) missing.push(path);
        stack.push({ indent, path });
      }
      if (line.trim() !== '') previous = line;
    }
    return missing;
  }

  it('has a comment on every key', () => {
    expect(uncommentedKeys()).toEqual([]);
  });

  it('types every key in the schema (no key the schema would reject or leave untyped)', () => {
    const values = parse(text) as Record<string, unknown>;
    const untyped: string[] = [];
    const walk = (value: unknown, node: SchemaNode | undefined, path: string): void => {
      if (node === undefined) {
        untyped.push(path);
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
      if (node.properties === undefined && typeof node.additionalProperties === 'object') return;
      if (node.properties === undefined) return; // an open object (securityContext, affinity, ...)
      for (const [key, child] of Object.entries(value)) {
        const sub = node.properties[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
        walk(child, sub, path ? `${path}.${key}` : key);
      }
    };
    walk(values, schema, '');
    expect(untyped).toEqual([]);
  });
});
