/**
 * `--log-opt max-file=N` (N > 1) with `max-size`: rotated log files as Docker keeps them
 * (`<log>.1` newest … `<log>.<N-1>` oldest; `.gz` each with `compress=true`).
 *
 * conmon writes the log and, at `--log-size-max`, starts a new file: it writes `<log>.tmp` and
 * renames it over `<log>`, which would drop the old file. While a container runs, the daemon holds
 * a second hard link to conmon's current file (`<log>.keep`); when `<log>` names a new file, the
 * kept link becomes `<log>.1` (older ones shift, the oldest beyond N-1 goes) and a new link is
 * made. No line is lost as long as the daemon notices each new file before conmon starts the next
 * one (it watches the directory); while the daemon is down, the one file held by `.keep` survives
 * and is rotated in at restore, files conmon starts after that replace each other.
 */
import { watch, type FSWatcher } from 'node:fs';
import { link, rename, rm, stat, unlink } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ContainerRecord } from '../container/container.js';
import type { ContainerObserver } from './containers/deps.js';
import { localRotation, logSizeMax } from './log-config.js';

const POLL_MS = 1000;

interface Tracked {
  path: string;
  maxFile: number;
  compress: boolean;
  watcher?: FSWatcher;
  poll: NodeJS.Timeout;
  /** Rotations run one at a time per container. */
  chain: Promise<void>;
  /** A check waits in `chain`: another would find what it finds. */
  queued: boolean;
}

/** max-file when rotation applies (a readable driver with max-size and max-file > 1), else undefined. */
export function rotationOf(rec: Pick<ContainerRecord, 'HostConfig'>): { maxFile: number; compress: boolean } | undefined {
  const lc = rec.HostConfig.LogConfig;
  if (!lc || lc.Type === 'none' || !logSizeMax(lc)) return undefined;
  if (lc.Type === 'local') {
    const local = localRotation(lc);
    return local && local.maxFile > 1 ? { maxFile: local.maxFile, compress: local.compress } : undefined;
  }
  const maxFile = Number(lc.Config?.['max-file'] ?? '1');
  if (!Number.isInteger(maxFile) || maxFile <= 1) return undefined;
  return { maxFile, compress: lc.Config?.['compress'] === 'true' };
}

/** The rotated files of a log, oldest first, as they are on disk now (`.N[.gz]` … `.1[.gz]`). */
export async function rotatedFiles(path: string, maxFile: number): Promise<Array<{ path: string; gz: boolean }>> {
  const out: Array<{ path: string; gz: boolean }> = [];
  for (let i = maxFile - 1; i >= 1; i--) {
    for (const gz of [false, true]) {
      const p = `${path}.${i}${gz ? '.gz' : ''}`;
      if (await stat(p).then(() => true, () => false)) {
        out.push({ path: p, gz });
        break;
      }
    }
  }
  return out;
}

export class LogRotation implements ContainerObserver {
  private readonly tracked = new Map<string, Tracked>();

  constructor(private readonly log: (msg: string) => void) {}

  started(rec: ContainerRecord): void {
    const rot = rotationOf(rec);
    if (!rot || this.tracked.has(rec.ID)) return;
    const t: Tracked = {
      path: rec.LogPath,
      ...rot,
      poll: setInterval(() => this.check(rec.ID), POLL_MS),
      chain: Promise.resolve(),
      queued: false,
    };
    t.poll.unref();
    try {
      const base = basename(rec.LogPath);
      // conmon's new file is renamed over the log; its writes to the log are not rotations.
      t.watcher = watch(dirname(rec.LogPath), { persistent: false }, (event, name) => {
        if (event === 'rename' && name === base) this.check(rec.ID);
      });
      t.watcher.on('error', () => {});
    } catch {
      // The poll still notices new files.
    }
    this.tracked.set(rec.ID, t);
    this.check(rec.ID);
  }

  stopped(rec: ContainerRecord): void {
    const t = this.tracked.get(rec.ID);
    if (!t) return;
    this.tracked.delete(rec.ID);
    clearInterval(t.poll);
    t.watcher?.close();
    // A last file conmon started just before the exit is rotated in; the kept link then goes.
    t.chain = t.chain.then(() => this.rotateIfNew(t)).then(() => unlink(`${t.path}.keep`).catch(() => {}));
  }

  close(): void {
    for (const t of this.tracked.values()) {
      clearInterval(t.poll);
      t.watcher?.close();
    }
    this.tracked.clear();
  }

  /**
   * At most one check waits behind the running one: a container writing as fast as it can made
   * thousands of events a second, each a link of the chain, faster than a compression ends (the
   * daemon's memory grew by tens of MB a second).
   */
  private check(id: string): void {
    const t = this.tracked.get(id);
    if (!t || t.queued) return;
    t.queued = true;
    t.chain = t.chain.then(() => {
      t.queued = false;
      return this.rotateIfNew(t);
    });
  }

  private async rotateIfNew(t: Tracked): Promise<void> {
    const keep = `${t.path}.keep`;
    try {
      const [cur, kept] = await Promise.all([stat(t.path).catch(() => undefined), stat(keep).catch(() => undefined)]);
      if (!cur) return;
      if (kept && kept.ino === cur.ino) return;
      if (kept) await this.shift(t, keep);
      await link(t.path, keep).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        await unlink(keep);
        await link(t.path, keep);
      });
    } catch (err) {
      this.log(`log rotation of ${t.path}: ${err instanceof Error ? err.message : err}`);
    }
  }

  /** `.k` -> `.k+1` from the oldest, the one beyond max-file-1 removed, then `keep` -> `.1`. */
  private async shift(t: Tracked, keep: string): Promise<void> {
    const last = t.maxFile - 1;
    await rm(`${t.path}.${last}`, { force: true });
    await rm(`${t.path}.${last}.gz`, { force: true });
    for (let i = last - 1; i >= 1; i--) {
      for (const ext of ['', '.gz']) {
        await rename(`${t.path}.${i}${ext}`, `${t.path}.${i + 1}${ext}`).catch(() => {});
      }
    }
    await rename(keep, `${t.path}.1`);
    if (t.compress) await compress(`${t.path}.1`);
  }
}

/** `p` -> `p.gz`, the plain file removed once the compressed one is complete. */
async function compress(p: string): Promise<void> {
  const tmp = `${p}.gz.tmp`;
  await pipeline(createReadStream(p), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
  await rename(tmp, `${p}.gz`);
  await unlink(p);
}
