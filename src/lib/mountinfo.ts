/** The one reader of /proc/<pid>/mountinfo (proc(5)): fields split, octal escapes decoded. */
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  /** The directory of the mounted filesystem that is the mount's root (`/` for a whole filesystem). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options (e.g. a cgroup v1 mount's controllers). */
  superOptions: string[];
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    // Optional fields end at ` - `; fs type, source and super options follow.
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5) continue;
    out.push({
      root: unescape(pre[3] ?? '/'),
      mountPoint: unescape(pre[4] ?? ''),
      fsType: post[0] ?? '',
      source: unescape(post[1] ?? ''),
      superOptions: (post[2] ?? '').split(','),
    });
  }
  return out;
}

/** This process's mounts (none when mountinfo cannot be read). */
export async function readMountInfo(path = '/proc/self/mountinfo'): Promise<MountInfo[]> {
  return parseMountInfo(await readFile(path, 'utf8').catch(() => ''));
}

/** Whether `path` (as the kernel shows it: absolute, no trailing slash) is a mount point. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await readMountInfo()).some((m) => m.mountPoint === path);
}
