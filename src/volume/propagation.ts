/**
 * Docker's checks of bind propagation at start (moby's WithMounts, ensureShared /
 * ensureSharedOrSlave): `shared`/`rshared` needs the source's mount to be a shared mount,
 * `slave`/`rslave` a shared or slave one; the mount is the longest mountinfo mount point above the
 * source (symlinks resolved). A slave mount under the daemon's data root whose propagation the
 * user did not set falls back to the default, as Docker does for its own directories.
 */
import { readFile, realpath } from 'node:fs/promises';
import { systemError } from '../lib/errors.js';
import { DEFAULT_PROPAGATION } from './mount-parser.js';
import type { StoredMountPoint } from './mount-points.js';

interface MountInfoEntry {
  mountPoint: string;
  /** The optional fields (`shared:N`, `master:N`, …). */
  optional: string[];
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    if (pre.length < 6) continue;
    out.push({ mountPoint: unescape(pre[4]!), optional: pre.slice(6) });
  }
  return out;
}

/** The mount `source` is on and its optional fields (getSourceMount). */
async function sourceMount(source: string): Promise<MountInfoEntry> {
  const path = await realpath(source).catch((err: NodeJS.ErrnoException) => {
    throw systemError(`lstat ${source}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  });
  const entries = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  let best: MountInfoEntry | undefined;
  for (const e of entries) {
    const parent = e.mountPoint === '/' || path === e.mountPoint || path.startsWith(e.mountPoint + '/');
    // The first of the longest, as moby's loop keeps it.
    if (parent && e.mountPoint.length > (best?.mountPoint.length ?? 0)) best = e;
  }
  if (!best) throw systemError(`Can't find mount point of ${source}`);
  return best;
}

const has = (e: MountInfoEntry, ...prefixes: string[]) => e.optional.some((o) => prefixes.some((p) => o.startsWith(p)));

/**
 * Throws Docker's error for a mount whose propagation its source cannot give; returns the
 * destinations that fall back to the default propagation.
 */
export async function checkPropagation(points: StoredMountPoint[], dataRoot: string): Promise<Set<string>> {
  const fallback = new Set<string>();
  for (const m of points) {
    if ((m.Type !== 'bind' && m.Type !== 'volume') || !m.Source) continue;
    const p = m.Propagation || DEFAULT_PROPAGATION;
    if (p === 'shared' || p === 'rshared') {
      const e = await sourceMount(m.Source);
      if (!has(e, 'shared:')) throw systemError(`path ${m.Source} is mounted on ${e.mountPoint} but it is not a shared mount`);
    } else if (p === 'slave' || p === 'rslave') {
      const e = await sourceMount(m.Source);
      if (has(e, 'shared:', 'master:')) continue;
      const inRoot = m.Source.startsWith(dataRoot) || dataRoot.startsWith(m.Source);
      if (!inRoot || m.Spec?.BindOptions?.Propagation) {
        throw systemError(`path ${m.Source} is mounted on ${e.mountPoint} but it is not a shared or slave mount`);
      }
      fallback.add(m.Destination);
    }
  }
  return fallback;
}
