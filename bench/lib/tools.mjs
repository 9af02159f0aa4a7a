// The load generator (wrk) and the reference proxy (nginx) are Debian packages. As root the
// benchmark installs what is missing; otherwise it names the packages and stops.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findExecutable(name) {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Resolves each tool to a path, installing its Debian package first when running as root. */
export function ensureTools(tools) {
  const missing = tools.filter(({ binary }) => findExecutable(binary) === undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(({ pkg }) => pkg))];
    if (process.getuid?.() !== 0) {
      throw new Error(`the benchmark needs these Debian packages: ${packages.join(' ')}\ninstall them with: sudo apt-get install -y ${packages.join(' ')}`);
    }
    process.stderr.write(`installing Debian packages: ${packages.join(' ')}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Package scripts must not start a system nginx: without a policy-rc.d, add one for the install only.
    const addPolicy = !existsSync('/usr/sbin/policy-rc.d');
    if (addPolicy) execFileSync('sh', ['-c', "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d"]);
    try {
      let install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: 'inherit' });
      if (install.status !== 0) {
        execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit' });
        install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: 'inherit' });
      }
      if (install.status !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed`);
    } finally {
      if (addPolicy) execFileSync('rm', ['-f', '/usr/sbin/policy-rc.d']);
    }
  }
  return Object.fromEntries(
    tools.map(({ binary }) => {
      const path = findExecutable(binary);
      if (path === undefined) throw new Error(`${binary} is still not on PATH after installing`);
      return [binary, path];
    }),
  );
}

export function versionOf(path, args) {
  const run = spawnSync(path, args, { encoding: 'utf8' });
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown';
}
