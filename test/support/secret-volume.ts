// A Kubernetes-style Secret volume: timestamped directories, a `..data` symlink to the current
// one, and each key as a symlink into `..data`. An update writes a new directory and swaps
// `..data` atomically (rename of a symlink), as the kubelet does.
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A Kubernetes-style secret volume; `update` swaps in a new version atomically, as the kubelet does. */
export async function secretVolume(files: Record<string, string>) {
  const root = await mkdtemp(join(tmpdir(), 'token-sidecar-secret-'));
  let version = 0;
  const writeVersion = async (contents: Record<string, string>) => {
    version += 1;
    const dir = `..2030_01_01_00_00_0${version}.00000000${version}`;
    await mkdir(join(root, dir));
    for (const [key, value] of Object.entries(contents)) await writeFile(join(root, dir, key), value);
    return dir;
  };
  let current = await writeVersion(files);
  await symlink(current, join(root, '..data'));
  for (const key of Object.keys(files)) await symlink(join('..data', key), join(root, key));
  return {
    root,
    path: (key: string) => join(root, key),
    async update(contents: Record<string, string>) {
      const next = await writeVersion(contents);
      await symlink(next, join(root, '..data_tmp'));
      await rename(join(root, '..data_tmp'), join(root, '..data'));
      await rm(join(root, current), { recursive: true });
      current = next;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
