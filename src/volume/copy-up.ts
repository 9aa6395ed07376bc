/**
 * Copy-up: a new, empty volume mounted over a directory of the image gets that directory's
 * content (owners, modes, times, xattrs, links, special files) and the directory's own owner and
 * mode, as Docker's copyExistingContents does. The directory is resolved and opened inside the
 * container root (containerfs), so a symlink in the image cannot make the copy read from the host.
 */
import { chmod, chown, readdir } from 'node:fs/promises';
import { openDirInRoot } from '../containerfs/root.js';
import { fdPath } from '../lib/fd-path.js';
import { systemError } from '../lib/errors.js';
import { run, type CommandError } from '../lib/run.js';

async function cpArchive(src: string, dst: string): Promise<void> {
  await run('cp', ['-a', '--', `${src}/.`, `${dst}/`]).catch((err: CommandError) => {
    throw systemError(`failed to populate volume: ${err.stderr.trim() || err.message}`);
  });
}

/**
 * Copies the directory `dest` of the container rootfs into `volumePath` when the volume is
 * empty. Returns whether anything was copied. A missing or non-directory source copies nothing.
 */
export async function copyUp(rootfs: string, dest: string, volumePath: string): Promise<boolean> {
  const dir = await openDirInRoot(rootfs, dest);
  if (!dir) return false;
  try {
    if ((await readdir(volumePath)).length > 0) return false;
    const st = await dir.stat();
    // cp runs in a child: the daemon's fd is named through its pid, not /proc/self.
    if ((await readdir(`${fdPath(dir)}/.`)).length > 0) await cpArchive(`/proc/${process.pid}/fd/${dir.fd}`, volumePath);
    await chown(volumePath, st.uid, st.gid);
    await chmod(volumePath, st.mode & 0o7777);
    return true;
  } finally {
    await dir.close();
  }
}
