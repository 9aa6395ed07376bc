/**
 * Files of a container through the API: stat (HEAD /archive), archive (GET /archive), extract
 * (PUT /archive) and export, on running and stopped containers alike. The rootfs stays mounted
 * by a reference each operation holds until its stream ends (rootfs-mounts.ts); the container's
 * lock is taken only to check and take it, so a slow client holds up no exit, stop or rm.
 *
 * Paths are resolved inside the container root only (containerfs/root.ts), with the container's
 * volumes and binds laid over it (containerfs/mounts.ts) as Docker mounts them into its view for cp:
 * a path inside a volume reads and writes the volume, `:ro` mounts refuse writes with Docker's
 * message. Export is the rootfs alone, as Docker's is.
 */
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerRecord } from '../container/container.js';
import { invalidParameter, notFound, systemError } from '../lib/errors.js';
import { resolveUser } from '../runtime/user.js';
import { extractPool } from '../layer/extract-pool.js';
import { walkPool } from '../containerfs/walk-pool.js';
import type { ContainerAccess } from './containers/access.js';
import { containerActor } from './containers/events.js';
import { ensureWorkingDir } from './containers/working-dir.js';
import { rootMounts } from '../containerfs/mounts.js';
import { ContainerRoot, RootPathError, isNotFound } from '../containerfs/root.js';
import { fdPath } from '../lib/fd-path.js';
import type { ContainerPathStat } from '../api/types.js';
import { goFileMode } from '../lib/go-file-mode.js';
import { rfc3339NanoFromNs } from '../lib/wall-clock.js';

/** Docker's ContainerPathStat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export type PathStat = ContainerPathStat;

/** Docker's PreserveTrailingDotOrSeparator(filepath.Join("/", path), path). */
export function containerAbsPath(path: string): string {
  let abs = posix.join('/', path);
  // Go's filepath.Base ignores trailing separators: "./" and "/./" name the current directory too.
  if (goBase(path) === '.') {
    if (!abs.endsWith('/')) abs += '/';
    abs += '.';
  }
  if (path.endsWith('/') && !abs.endsWith('/')) abs += '/';
  return abs;
}

/** filepath.Base as Go defines it ("/" for the root). */
function goBase(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** A path whose last element must be looked up through a symlink (trailing `/` or `/.`). */
function followsFinal(abs: string): boolean {
  return abs.endsWith('/') || abs.endsWith('/.');
}

export interface ExtractRequest {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

export class ContainerArchive {
  constructor(private readonly c: ContainerAccess) {}

  /**
   * Runs `fn` with the container's root open. The rootfs stays mounted by a reference held for
   * the time (rootfs-mounts.ts), not by the container's lock: a client that reads slowly must not
   * hold up exit handling, stop or rm.
   */
  private async mounted<T>(rec: ContainerRecord, fn: (root: ContainerRoot) => Promise<T>, withMounts = true): Promise<T> {
    const hostRoot = await this.c.locked(rec.ID, async () => {
      if (rec.State.RemovalInProgress || rec.State.Dead) throw invalidParameter(`container ${rec.ID} is marked for removal`);
      const path = await this.c.rootfs.acquire(rec.ID);
      // Docker makes the working directory at create, so a created container's cp finds it
      // (a workdir that cannot be made is left for the start to report).
      if (!rec.HasBeenStartedBefore && rec.Config.WorkingDir) await ensureWorkingDir(path, rec.Config.WorkingDir).catch(() => {});
      return path;
    });
    let root: ContainerRoot | undefined;
    try {
      root = await ContainerRoot.open(hostRoot, withMounts ? { mounts: rootMounts(rec), readonlyRootfs: !!rec.HostConfig.ReadonlyRootfs } : {});
      return await fn(root);
    } finally {
      await root?.close();
      await this.c.rootfs.release(rec.ID).catch((err) => this.c.deps.log(`unmount ${rec.ID}: ${err}`));
    }
  }

  private fileNotFound(path: string, ref: string) {
    return notFound(`Could not find the file ${path} in container ${ref}`);
  }

  /** lstat of `abs` as Docker's containerFSView.Stat sees it, with the entry's resolved location. */
  private async statIn(root: ContainerRoot, abs: string): Promise<{ stat: PathStat; st: Stats }> {
    const r = await root.resolve(abs, { followFinal: followsFinal(abs) });
    try {
      const st = await lstat(r.at());
      // Docker lstats the path as given inside the container: a trailing `/` or `/.` needs a directory.
      if (followsFinal(abs) && !st.isDirectory()) throw systemError(`lstat ${abs}: not a directory`);
      const big = await lstat(r.at(), { bigint: true });
      let linkTarget = '';
      if (st.isSymbolicLink()) {
        const t = await root.resolve(abs, { followFinal: true });
        linkTarget = t.containerPath;
        await t.close();
      }
      const stat: PathStat = { name: goBase(abs), size: st.size, mode: goFileMode(st.mode), mtime: rfc3339NanoFromNs(big.mtimeNs), linkTarget };
      return { stat, st };
    } finally {
      await r.close();
    }
  }

  private mapError(err: unknown, path: string, ref: string): unknown {
    // A NUL in the path: node refuses it before any system call (naming the root's fd path); Go's
    // lstat fails with EINVAL.
    if ((err as NodeJS.ErrnoException)?.code === 'ERR_INVALID_ARG_VALUE' && path.includes('\0')) return systemError(`lstat ${path}: invalid argument`);
    if (err instanceof RootPathError && err.code === 'ELOOP') return systemError(`too many levels of symbolic links: ${path}`);
    if (err instanceof RootPathError && err.code === 'EROFS') return systemError(`mkdir ${path}: read-only file system`);
    if (err instanceof RootPathError || isNotFound(err)) return this.fileNotFound(path, ref);
    return err;
  }

  /** HEAD /containers/{id}/archive */
  async stat(ref: string, path: string): Promise<PathStat> {
    const rec = this.c.get(ref);
    try {
      return await this.mounted(rec, async (root) => (await this.statIn(root, containerAbsPath(path))).stat);
    } catch (err) {
      throw this.mapError(err, path, ref);
    }
  }

  /** GET /containers/{id}/archive: the stat and a tar of the resource, named as Docker rebases it. */
  async archive(ref: string, path: string): Promise<{ stat: PathStat; stream: Readable }> {
    const rec = this.c.get(ref);
    const abs = containerAbsPath(path);
    return new Promise((resolve, reject) => {
      let handedOut = false;
      this.mounted(rec, async (root) => {
        const { stat, st } = await this.statIn(root, abs);
        // A directory is walked from itself (its symlinks followed when the path says so);
        // anything else is archived as the entry it is, symlinks included.
        const r = await root.resolve(abs, { followFinal: st.isDirectory() });
        try {
          const rebase = goBase(abs) === '/' ? '' : goBase(abs);
          // Volumes below the path are archived from their sources, by the tar names they appear under.
          const below = (dest: string) => rebase + (r.containerPath === '/' ? dest : dest.slice(r.containerPath.length));
          const mounts = new Map(root.mountsBelow(r.containerPath).map(([dest, at]) => [below(dest), at]));
          const tar = walkPool.tar({ at: r.at(), name: rebase }, { mounts });
          handedOut = true;
          resolve({ stat, stream: tar });
          this.c.deps.events.log('container', 'archive-path', containerActor(rec));
          await tar.stopped;
        } finally {
          await r.close();
        }
      }).catch((err) => {
        if (!handedOut) reject(this.mapError(err, path, ref));
        else this.c.deps.log(`archive ${rec.ID} ${path}: ${err}`);
      });
    });
  }

  /** PUT /containers/{id}/archive: extracts a (possibly compressed) tar into the directory `path`. */
  async extract(ref: string, path: string, src: Readable, req: ExtractRequest): Promise<void> {
    const rec = this.c.get(ref);
    try {
      await this.mounted(rec, async (root) => {
        const r = await root.resolve(posix.join('/', path), { followFinal: true });
        let dest: string;
        try {
          const st = await lstat(r.at());
          if (!st.isDirectory()) throw invalidParameter('extraction point is not a directory');
          dest = r.containerPath;
          // Docker's checkWritablePath, on the resolved destination.
          if (!root.writable(dest)) {
            throw invalidParameter(root.mountOf(dest) ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
          }
        } finally {
          await r.close();
        }
        let chown: { uid: number; gid: number } | undefined;
        if (req.copyUIDGID && rec.Config.User) {
          const u = await resolveUser(root.hostPath, rec.Config.User);
          chown = { uid: u.uid, gid: u.gid };
        }
        await extractPool.extractInto(src, root.spec(), dest, { noOverwriteDirNonDir: req.noOverwriteDirNonDir, chroot: 'root', ...(chown ? { chown } : {}) });
      });
    } catch (err) {
      src.resume();
      throw this.mapError(err, path, ref);
    }
    this.c.deps.events.log('container', 'extract-to-dir', containerActor(rec));
  }

  /** GET /containers/{id}/export: the whole filesystem as a tar. */
  async export(ref: string): Promise<Readable> {
    const rec = this.c.get(ref);
    return new Promise((resolve, reject) => {
      let handedOut = false;
      this.mounted(rec, async (root) => {
        const tar = walkPool.tar({ at: fdPath(root.fh), name: '', children: true });
        handedOut = true;
        resolve(tar);
        this.c.deps.events.log('container', 'export', containerActor(rec));
        await tar.stopped;
      }, false).catch((err) => {
        if (!handedOut) reject(err);
        else this.c.deps.log(`export ${rec.ID}: ${err}`);
      });
    });
  }
}
