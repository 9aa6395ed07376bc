/**
 * Docker's init layer: what every container's rootfs gets below its own changes (mount points
 * for /proc, /sys, /dev/pts, /dev/shm, the /etc files the daemon bind-mounts, /.dockerenv).
 * moby makes it through a mount of the image, so only what the image lacks is created and a
 * directory the image has keeps its owner and mode (overlay copies it up). Here it is written
 * straight into the layer's diff dir, looking each path up in the image's layers instead of
 * mounting them.
 */
import { chmodSync, lchownSync, lstatSync, mkdirSync, symlinkSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

/** [path, 'dir' | 'file' | the target of a symlink] */
const INIT_LAYER: Array<[string, string]> = [
  ['dev/pts', 'dir'],
  ['dev/shm', 'dir'],
  ['proc', 'dir'],
  ['sys', 'dir'],
  ['.dockerenv', 'file'],
  ['etc/resolv.conf', 'file'],
  ['etc/hosts', 'file'],
  ['etc/hostname', 'file'],
  ['dev/console', 'file'],
  ['etc/mtab', '/proc/mounts'],
];

/** An overlay whiteout: a character device 0/0. */
const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/**
 * `rel` as the image shows it: the nearest layer that has it (`lowers` nearest first), or
 * undefined. Its directories are looked up one by one and never through a link: a layer's
 * `etc -> /somewhere` is the host's /somewhere when followed from here, not the container's.
 * Behind a link (or a file) the path counts as missing.
 */
function inImage(lowers: string[], rel: string): Stats | undefined {
  const parts = rel.split('/');
  for (const dir of lowers) {
    let st: Stats | undefined;
    for (let i = 1; i <= parts.length; i++) {
      st = lstatSync(join(dir, ...parts.slice(0, i)), { throwIfNoEntry: false });
      if (!st || i === parts.length) break;
      if (isWhiteout(st) || !st.isDirectory()) return undefined;
    }
    if (st) return isWhiteout(st) ? undefined : st;
  }
  return undefined;
}

/** A directory made here takes the image's owner, mode and times, as an overlay copy-up would. */
function makeDir(diff: string, rel: string, lowers: string[]): void {
  const p = join(diff, rel);
  mkdirSync(p, { recursive: true, mode: 0o755 });
  const img = inImage(lowers, rel);
  if (!img?.isDirectory()) return;
  lchownSync(p, img.uid, img.gid);
  chmodSync(p, img.mode & 0o7777);
  utimesSync(p, img.atime, img.mtime);
}

/**
 * Fills the init layer's `diff` dir over the image whose layer dirs are `lowers` (nearest first).
 * Synchronous on purpose: a few dozen calls on the daemon's own data root take well under a
 * millisecond on the main thread, where the same calls through the thread pool cost about 65 µs
 * of CPU each in round trips, for every container created.
 */
export function populateInitLayer(diff: string, lowers: string[]): void {
  const made = new Set<string>(['.']);
  for (const [rel, kind] of INIT_LAYER) {
    const existing = inImage(lowers, rel);
    // moby creates only what the image lacks. Something of another kind (a symlinked
    // /etc/resolv.conf) is still shadowed, so the daemon's bind mounts never follow a link.
    const same = kind === 'dir' ? existing?.isDirectory() : kind === 'file' ? existing?.isFile() : existing?.isSymbolicLink();
    if (same) continue;
    for (let parent = dirname(rel), chain: string[] = []; ; parent = dirname(parent)) {
      if (made.has(parent)) {
        for (const p of chain.reverse()) {
          makeDir(diff, p, lowers);
          made.add(p);
        }
        break;
      }
      chain.push(parent);
    }
    const p = join(diff, rel);
    if (kind === 'dir') mkdirSync(p, { recursive: true, mode: 0o755 });
    else if (kind === 'file') writeFileSync(p, '', { mode: 0o755 }); // Docker's mode for these
    else symlinkSync(kind, p);
  }
}
