/**
 * Sets the size of a terminal whose pty master another process holds (conmon), at once: through
 * the addon src/native/pty-size.c, which copies the master's descriptor out of that process
 * (pidfd_getfd) and sets the size on it, as containerd's shim sets it on the console it holds.
 */
import { closeSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAddon } from './native-path.js';

interface PtySizeAddon {
  pidfdOpen(pid: number): number;
  setPtySize(pidfd: number, fd: number, rows: number, cols: number): number;
}

/**
 * Sets rows × cols on the pty master among process `pid`'s descriptors. `isHolder` is given the
 * targets of all its descriptors and says whether this is the process meant (the pid could have
 * been reused); it runs after the process is pinned by a pidfd, so a process that ends and whose
 * pid is taken meanwhile makes the copy fail rather than reach the other one. False when the size
 * could not be set this way: no addon, a kernel before 5.6, the process gone or not the holder, or
 * no master among its descriptors.
 */
export async function setHeldPtySize(pid: number, rows: number, cols: number, isHolder: (targets: string[]) => boolean): Promise<boolean> {
  const addon = loadAddon<PtySizeAddon>('pty-size.node');
  if (!addon || !Number.isSafeInteger(pid) || pid <= 0) return false;
  const pidfd = addon.pidfdOpen(pid);
  if (pidfd < 0) return false;
  try {
    const dir = `/proc/${pid}/fd`;
    const fds = await readdir(dir).catch(() => [] as string[]);
    const targets = await Promise.all(fds.map((fd) => readlink(join(dir, fd)).catch(() => '')));
    if (!isHolder(targets)) return false;
    // /dev/ptmx, or a devpts instance's own ptmx as runc opens it; the addon checks the device.
    const master = fds.find((_, i) => /\/ptmx$/.test(targets[i]!));
    if (master === undefined) return false;
    // The kernel's sizes are 16 bits; Docker's shim truncates the API's 32 as well.
    const size = (n: number) => Math.max(0, Math.floor(n)) % 0x10000;
    return addon.setPtySize(pidfd, Number(master), size(rows), size(cols)) === 0;
  } finally {
    closeSync(pidfd);
  }
}
