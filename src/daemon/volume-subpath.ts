/**
 * `--mount type=volume,…,volume-subpath=sub` (API 1.45 VolumeOptions.Subpath), as moby's
 * safepath.Join: the subpath is resolved on the host with Docker's errors (a missing path is
 * NotFound "cannot access path …", one that leads outside the volume through a symlink is
 * "path concatenation escapes the base directory"), then the entry is opened through directory
 * fds below the volume root (daemon/container-root.ts) and that open entry, not a path string, is
 * bind-mounted on a private mount point. The runtime mounts that into the container, so a
 * symlink swapped in after the check cannot lead the mount out of the volume.
 */
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, realpath, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join, relative, isAbsolute, sep } from 'node:path';
import { invalidParameter, notFound } from '../lib/errors.js';
import { bindMount, unmountLocal } from '../volume/local-driver.js';
import { ContainerRoot, O_PATH } from '../containerfs/root.js';

/** Go's EvalSymlinks error for the first component of `path` below `base` that does not exist. */
async function missingComponent(base: string, sub: string): Promise<string> {
  let cur = base;
  for (const part of sub.split('/').filter((p) => p && p !== '.')) {
    cur = join(cur, part);
    if (!(await lstat(cur).then(() => true, () => false))) return cur;
  }
  return cur;
}

/** Resolves `subpath` in the volume at `volumePath` and bind-mounts it on `mountPoint`; returns the mount point. */
export async function pinSubpath(volumePath: string, subpath: string, mountPoint: string): Promise<string> {
  const base = await realpath(volumePath).catch((err: NodeJS.ErrnoException) => {
    throw notFound(`cannot access path ${volumePath}: ${err.message}`);
  });
  const combined = join(base, subpath);
  const resolved = await realpath(combined).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw notFound(`cannot access path ${combined}: lstat ${await missingComponent(base, subpath)}: no such file or directory`);
    throw invalidParameter(`error while resolving symlinks in combined path "${combined}": ${err.message}`);
  });
  const rel = relative(base, resolved);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw invalidParameter(`path concatenation escapes the base directory, base: ${base}, subpath: ${subpath}`);
  }
  const root = await ContainerRoot.open(base);
  try {
    const at = await root.resolve('/' + rel, { followFinal: true });
    try {
      const fh = await open(at.at(), O_PATH | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
        throw notFound(`cannot access path ${combined}: ${err.message}`);
      });
      try {
        const st = await fh.stat();
        if (st.isSymbolicLink()) throw notFound(`cannot access path ${combined}: too many levels of symbolic links`);
        if (st.isDirectory()) await mkdir(mountPoint, { recursive: true, mode: 0o700 });
        else await writeFile(mountPoint, '', { mode: 0o600 });
        try {
          await bindMount(`/proc/${process.pid}/fd/${fh.fd}`, mountPoint);
        } catch (err) {
          await rm(mountPoint, { recursive: true, force: true });
          throw err;
        }
        return mountPoint;
      } finally {
        await fh.close();
      }
    } finally {
      await at.close();
    }
  } finally {
    await root.close();
  }
}

/** Undoes pinSubpath (nothing when it is not mounted). */
export async function unpinSubpath(mountPoint: string): Promise<void> {
  await unmountLocal(mountPoint);
  // Only the empty directory or file made for it: never recursive, in case it is still a mount.
  await rmdir(mountPoint)
    .catch(() => unlink(mountPoint))
    .catch(() => {});
}
