/**
 * The container's working directory, made in its rootfs: at start, and (as Docker makes it at
 * create) when a created container's files are first reached through cp, before any start.
 */
import { invalidParameter } from '../../lib/errors.js';
import { mkdirAllInRoot, RootPathError } from '../../containerfs/root.js';

export async function ensureWorkingDir(rootfs: string, cwd: string): Promise<void> {
  if (cwd === '/') return;
  if (!cwd.startsWith('/')) throw invalidParameter(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  if (cwd.split('/').includes('..')) throw invalidParameter(`the working directory '${cwd}' is invalid`);
  // Made inside the root (containerfs): a symlink in the image never leads the mkdir out of it.
  await mkdirAllInRoot(rootfs, cwd).catch((err: unknown) => {
    if (err instanceof RootPathError && (err.code === 'ENOTDIR' || err.code === 'ELOOP')) {
      throw invalidParameter(`cannot use ${cwd} as working directory: not a directory`);
    }
    throw err;
  });
}
