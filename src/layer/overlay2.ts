/**
 * The overlay2 graph driver's on-disk layout, as Docker's overlay2 driver writes it:
 *   <home>/<id>/diff        the layer's content
 *   <home>/<id>/link        its 26-character short name
 *   <home>/<id>/lower       `l/<parent short>:l/<grandparent short>…` (only with a parent)
 *   <home>/<id>/work        overlay's workdir (only with a parent)
 *   <home>/<id>/merged      mount point (created on first mount)
 *   <home>/l/<short>        -> ../<id>/diff
 * Mounts are made with cwd = <home> and relative l/ paths, so long lower chains fit in a page.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemError } from '../lib/errors.js';
import { isMountPoint } from '../lib/mountinfo.js';
import { mountFilesystem, unmountFilesystem } from '../lib/mounts.js';

/** Whether overlayfs takes `volatile` (Linux 5.10+): unknown until the first volatile mount. */
let volatileSupported: boolean | undefined;

const LINK_DIR = 'l';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 26 base32 characters from 16 random bytes, like Docker's overlay2 link names. */
export function generateLinkId(): string {
  const bytes = randomBytes(17);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export class Overlay2 {
  /** Mount points this process knows are mounted (saves a mountinfo read on repeat calls). */
  private readonly mounted = new Set<string>();
  /** Mount points this process unmounted since (removal after exit handling needs no mountinfo read). */
  private readonly unmounted = new Set<string>();

  constructor(readonly home: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.home, LINK_DIR), { recursive: true, mode: 0o700 });
  }

  dir(id: string): string {
    return join(this.home, id);
  }
  diffDir(id: string): string {
    return join(this.home, id, 'diff');
  }
  mergedDir(id: string): string {
    return join(this.home, id, 'merged');
  }
  workDir(id: string): string {
    return join(this.home, id, 'work');
  }

  /**
   * Creates the driver directory for `id` on top of `parent` (a driver id) or as a base layer.
   * Synchronous calls, each a few tens of µs on a local file system: through the thread pool
   * the nine of them cost a container's create 2-3 ms more.
   */
  async create(id: string, parent: string | null): Promise<void> {
    const dir = this.dir(id);
    mkdirSync(dir, { mode: 0o710 });
    try {
      mkdirSync(join(dir, 'diff'), { mode: 0o755 });
      const linkId = generateLinkId();
      symlinkSync(join('..', id, 'diff'), join(this.home, LINK_DIR, linkId));
      writeFileSync(join(dir, 'link'), linkId, { mode: 0o644 });
      if (parent !== null) {
        mkdirSync(join(dir, 'work'), { mode: 0o700 });
        writeFileSync(join(dir, 'lower'), this.lowerFor(parent), { mode: 0o644 });
      }
    } catch (err) {
      await this.remove(id).catch(() => {});
      throw err;
    }
  }

  /**
   * Puts a parentless driver directory (made by create(id, null), e.g. while its content was
   * extracted before the parent existed) on top of `parent`: its work dir and lower chain.
   */
  async setParent(id: string, parent: string): Promise<void> {
    const dir = this.dir(id);
    await mkdir(join(dir, 'work'), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await writeFile(join(dir, 'lower'), this.lowerFor(parent), { mode: 0o644 });
  }

  /** The `lower` content of a layer whose parent is `parent`. */
  private lowerFor(parent: string): string {
    const parentLink = readFileSync(join(this.dir(parent), 'link'), 'utf8').trim();
    const parentLower = this.lowerSync(parent);
    return parentLower ? `${LINK_DIR}/${parentLink}:${parentLower}` : `${LINK_DIR}/${parentLink}`;
  }

  async lower(id: string): Promise<string> {
    return this.lowerSync(id);
  }

  /** A small file read in place, as create() does (see there). */
  private lowerSync(id: string): string {
    try {
      return readFileSync(join(this.dir(id), 'lower'), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  /** Absolute lower diff dirs of `id`, nearest first (resolved through the l/ links). */
  async lowerDirs(id: string): Promise<string[]> {
    const lower = this.lowerSync(id);
    if (!lower) return [];
    return lower.split(':').map((rel) => join(this.home, LINK_DIR, readlinkSync(join(this.home, rel))));
  }

  /**
   * Removes the driver directory and its short link. Idempotent. `discard` takes the (unmounted)
   * directory away, by default by deleting it.
   */
  async remove(id: string, discard: (dir: string) => Promise<void> = removeTree): Promise<void> {
    const dir = this.dir(id);
    // Synchronous, as create's: two small calls on every removal, not two thread-pool round trips.
    let linkId = '';
    try {
      linkId = readFileSync(join(dir, 'link'), 'utf8').trim();
      if (linkId) unlinkSync(join(this.home, LINK_DIR, linkId));
    } catch {
      // No link file (a half-made layer), or its link already gone.
    }
    await discard(dir);
    this.unmounted.delete(this.mergedDir(id));
  }

  /**
   * Mounts `id` (which must have a parent) at <id>/merged; idempotent. Returns the merged path.
   * `volatile` (a container removed when it ends, as Podman does for --rm): overlayfs skips every
   * sync of the upper dir, the container's fsyncs and the one of the whole upper file system that
   * an unmount otherwise makes (1.5-18 ms here); nothing of that dir outlives the container.
   */
  async mount(id: string, opts: { volatile?: boolean } = {}): Promise<string> {
    const merged = this.mergedDir(id);
    this.unmounted.delete(merged);
    if (this.mounted.has(merged)) return merged;
    if (existsSync(merged) && (await isMountPoint(merged))) {
      this.mounted.add(merged);
      return merged;
    }
    const lower = await this.lower(id);
    if (!lower) throw systemError(`overlay2: layer ${id} has no lower layers to mount`);
    await mkdir(merged, { recursive: true, mode: 0o700 });
    const options = overlayMountOptions(lower, id, (p) => existsSync(`/sys/module/overlay/parameters/${p}`));
    // A volatile mount leaves <workdir>/work/incompat/volatile, and the kernel refuses to mount the
    // layer again while it is there; this layer is the daemon's own and was unmounted (or its host
    // went down, and a removed container's layer is never mounted again).
    const marker = join(this.workDir(id), 'work', 'incompat', 'volatile');
    if (existsSync(marker)) await rm(marker, { recursive: true, force: true });
    const mountWith = (o: string[]) => mountFilesystem('overlay', 'overlay', merged, o, { cwd: this.home });
    if (opts.volatile && volatileSupported !== false) {
      try {
        await mountWith([...options, 'volatile']);
        volatileSupported = true;
      } catch (err) {
        // A kernel before 5.10 does not know the option; any other failure is the mount's own.
        if (volatileSupported) throw err;
        await mountWith(options);
        volatileSupported = false;
      }
    } else {
      await mountWith(options);
    }
    this.mounted.add(merged);
    return merged;
  }

  /**
   * Runs `fn` on a read-only view of `id` at <id>/merged, which must not be mounted: its diff and
   * its lowers, all as lower layers, so nothing needs the work dir and nothing can be written. For
   * a look at a container's files before it first starts (as Docker's create looks).
   */
  async withReadOnlyView<T>(id: string, fn: (merged: string) => Promise<T>): Promise<T> {
    const merged = this.mergedDir(id);
    if (this.mounted.has(merged)) throw systemError(`overlay2: layer ${id} is mounted`);
    const lower = await this.lower(id);
    if (!lower) throw systemError(`overlay2: layer ${id} has no lower layers to mount`);
    await mkdir(merged, { recursive: true, mode: 0o700 });
    await mountFilesystem('overlay', 'overlay', merged, [`lowerdir=${id}/diff:${lower}`], { cwd: this.home });
    try {
      return await fn(merged);
    } finally {
      await unmountFilesystem(merged).catch(() => unmountFilesystem(merged, { lazy: true }));
    }
  }

  /**
   * Unmounts <id>/merged if mounted; idempotent. A mount this process made is unmounted without
   * reading mountinfo first (O(mounts), and 25-45 ms each when 20 removals run side by side);
   * mountinfo decides only when the umount fails or the mount is an earlier daemon's.
   */
  async unmount(id: string): Promise<void> {
    const merged = this.mergedDir(id);
    const ours = this.mounted.delete(merged);
    if (this.unmounted.has(merged) || !existsSync(merged)) return;
    if (!ours && !(await isMountPoint(merged))) return;
    try {
      await unmountFilesystem(merged);
    } catch (err) {
      // Not mounted after all, or busy (a process still has it open): then it is detached so
      // that it cannot leak past the container.
      if (!(await isMountPoint(merged))) {
        this.unmounted.add(merged);
        return;
      }
      await unmountFilesystem(merged, { lazy: true }).catch(() => {
        throw err;
      });
    }
    this.unmounted.add(merged);
  }
}

/**
 * The options of a container layer's mount, `hasParam` telling which features this kernel's
 * overlay has (a module parameter for each). All three off, whatever the host's defaults:
 * index, so an upper dir can become a lower layer later (build steps take theirs whole);
 * redirect_dir and metacopy, which keep a renamed directory or a chmod'ed file as an xattr
 * pointing into the lower layers, which no walk of the upper dir can turn into a tar (Docker's
 * overlay2 falls back to a naive diff on hosts that enable them).
 */
export function overlayMountOptions(lower: string, id: string, hasParam: (name: string) => boolean): string[] {
  const options = [`lowerdir=${lower}`, `upperdir=${id}/diff`, `workdir=${id}/work`];
  for (const feature of ['index', 'redirect_dir', 'metacopy']) if (hasParam(feature)) options.push(`${feature}=off`);
  return options;
}

function removeTree(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
