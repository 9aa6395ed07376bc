/**
 * The mounts on every run's path (a container's overlay rootfs, its network namespace file):
 * made by the daemon's spawn helper with the system call itself when the daemon runs one
 * (lib/spawner.ts: 5-9 ms less per call than util-linux, which reads the whole mount table
 * first), else by util-linux's mount, umount and unshare. Errors are CommandErrors worded after
 * the equivalent command line either way.
 */
import type { RunOptions } from './run.js';
import type { SyscallRequest } from './spawn-frames.js';
import { syscallOrRun } from './spawner.js';

const MNT_DETACH = 2;

/** `mount -t <fstype> <source> -o <options> <target>`, options being the filesystem's own (no ro, nosuid…). */
export function mountFilesystem(fstype: string, source: string, target: string, options: string[], opts: RunOptions = {}): Promise<void> {
  const data = options.join(',');
  return syscallOr(['mount', '-t', fstype, source, '-o', data, target], { op: 'mount', cwd: opts.cwd, source, target, fstype, data, flags: 0 }, opts);
}

/** `umount <target>`, or `umount -l` (detached: gone from the tree now, freed when no longer busy). */
export function unmountFilesystem(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  return syscallOr(['umount', ...(opts.lazy ? ['-l'] : []), target], { op: 'umount', target, flags: opts.lazy ? MNT_DETACH : 0 });
}

/** `unshare --net=<path> true`: a new, empty network namespace (loopback down) bound onto the existing file `path`. */
export function bindNewNetns(path: string): Promise<void> {
  return syscallOr(['unshare', `--net=${path}`, 'true'], { op: 'netns', target: path });
}

/** The call through the helper, or the command itself; either way worded as the command. */
function syscallOr(cmd: [string, ...string[]], q: SyscallRequest, opts: RunOptions = {}): Promise<void> {
  return syscallOrRun(q, cmd.join(' '), cmd, opts);
}
