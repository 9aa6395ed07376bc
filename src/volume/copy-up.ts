/**
 * Copy-up: a new, empty volume mounted over a directory of the image gets that directory's
 * content (owners, modes, times, xattrs, links, special files) and the directory's own owner and
 * mode, as Docker's copyExistingContents does. Paths inside the container are resolved within its
 * root, so a symlink in the image cannot make the copy read from the host.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, lstat, readdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { systemError } from '../lib/errors.js';

const MAX_SYMLINKS = 255;

/** The host path of `path` inside `root`, symlinks followed as if `root` were `/`. */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const rest = posix.normalize(`/${path}`).split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (rest.length) {
    const part = rest.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(root, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      done.push(part);
      if (!st) return posix.join(root, ...done, ...rest);
      continue;
    }
    if (++hops > MAX_SYMLINKS) throw systemError(`too many symlinks resolving ${path} in the container`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    rest.unshift(...target.split('/').filter(Boolean));
  }
  return posix.join(root, ...done);
}

function cpArchive(src: string, dst: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--', `${src}/.`, `${dst}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(systemError(`failed to populate volume: ${stderr.trim()}`))));
  });
}

/**
 * Copies the directory `dest` of the container rootfs into `volumePath` when the volume is
 * empty. Returns whether anything was copied. A missing or non-directory source copies nothing.
 */
export async function copyUp(rootfs: string, dest: string, volumePath: string): Promise<boolean> {
  const src = await resolveInRoot(rootfs, dest);
  const st = await lstat(src).catch(() => undefined);
  if (!st?.isDirectory()) return false;
  if ((await readdir(volumePath)).length > 0) return false;
  if ((await readdir(src)).length > 0) await cpArchive(src, volumePath);
  await chown(volumePath, st.uid, st.gid);
  await chmod(volumePath, st.mode & 0o7777);
  return true;
}
