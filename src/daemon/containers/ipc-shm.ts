/**
 * Docker's shareable IPC: a container started with `--ipc shareable` gets its /dev/shm from a
 * tmpfs mounted on the host under its own directory, so that a container joining its IPC
 * namespace (`--ipc container:<id>`) binds the same one and both see the same POSIX shared
 * memory, as the namespace alone shares only System V IPC. The mount lives from the start to the
 * exit of the shareable container (a joiner's bind keeps its own reference).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { readMountInfo } from '../../lib/mountinfo.js';

export function shmPath(containerDir: string): string {
  return join(containerDir, 'mounts', 'shm');
}

const mounted = async (path: string): Promise<boolean> => (await readMountInfo()).some((m) => m.mountPoint === path);

/** Mounts the tmpfs at `path` unless it is there (a container restarted, a daemon restarted). */
export async function mountShm(path: string, sizeBytes: number): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (await mounted(path)) return;
  await run('mount', ['-t', 'tmpfs', '-o', `nosuid,noexec,nodev,mode=1777,size=${sizeBytes}`, 'shm', path]);
}

/** Detaches it (Docker's MNT_DETACH): containers that bound it keep theirs. */
export async function unmountShm(path: string): Promise<void> {
  if (await mounted(path)) await run('umount', ['-l', path]);
}
