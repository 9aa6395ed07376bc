/**
 * The volume store: <data-root>/volumes/<name>/_data holds the data, <name>/metadata.json the
 * volume's driver, labels, options and creation time (written atomically). References (which
 * containers use a volume) and active mounts are kept in memory and rebuilt from the containers
 * at daemon start, as Docker does.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readJsonIfExists, writeJsonAtomic } from '../lib/atomic-file.js';
import { EngineError, conflict, notFound, systemError } from '../lib/errors.js';
import { KeyedMutex } from '../lib/mutex.js';
import { isMountPoint } from '../lib/mountinfo.js';
import { mountLocal, needsMount, unmountLocal, validateLocalOptions, validateVolumeName } from './local-driver.js';

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
export const DEFAULT_DRIVER = 'local';
const METADATA_FILE = 'metadata.json';
const DATA_DIR = '_data';

export interface VolumeRecord {
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** RFC 3339, seconds, as Docker reports it. */
  CreatedAt: string;
}

export interface CreateVolumeOptions {
  driver?: string;
  labels?: Record<string, string> | null;
  options?: Record<string, string> | null;
  /** A container taking a reference on the volume as it is created or found. */
  reference?: string;
}

/** Docker's error text for a failed volume operation: `<op> <name>: <cause>`. */
export function opError(op: string, name: string, err: unknown): EngineError {
  const e = err instanceof EngineError ? err : systemError(String((err as Error)?.message ?? err), err);
  return new EngineError(e.kind, `${op} ${name}: ${e.message}`, { cause: err });
}

// moby's OpErr leaves out an empty name: `get: no such volume`.
export const noSuchVolume = (name: string) => notFound(`get${name === '' ? '' : ` ${name}`}: no such volume`);

/** Local time with its offset, seconds precision (Go's time.RFC3339 of a local time). */
export function rfc3339Local(d = new Date()): string {
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(off / 60)}:${pad(off % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

export class VolumeStore {
  readonly root: string;
  private readonly volumes = new Map<string, VolumeRecord>();
  private readonly refs = new Map<string, Set<string>>();
  /** Users of a mounted volume (container IDs); the volume is mounted while this is non-empty. */
  private readonly active = new Map<string, Set<string>>();
  private readonly lock = new KeyedMutex();

  constructor(
    dataRoot: string,
    private readonly hooks: { created?(v: VolumeRecord): void; removed?(v: VolumeRecord): void; log?(msg: string): void } = {},
  ) {
    this.root = join(dataRoot, 'volumes');
  }

  /** Reads every volume directory (daemon start); unreadable ones are logged and skipped. */
  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const name of await readdir(this.root)) {
      const dir = join(this.root, name);
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      try {
        const meta = await readJsonIfExists<VolumeRecord>(join(dir, METADATA_FILE));
        const v: VolumeRecord = meta ?? {
          Name: name,
          Driver: DEFAULT_DRIVER,
          Labels: null,
          Options: null,
          CreatedAt: rfc3339Local(st.ctime),
        };
        this.volumes.set(name, v);
        this.refs.set(name, new Set());
      } catch (err) {
        this.hooks.log?.(`volume store: skipping ${dir}: ${(err as Error).message}`);
      }
    }
  }

  dataPath(name: string): string {
    return join(this.root, name, DATA_DIR);
  }

  get(name: string): VolumeRecord | undefined {
    return this.volumes.get(name);
  }

  /** NotFound `get <name>: no such volume` when absent. */
  mustGet(name: string): VolumeRecord {
    const v = this.volumes.get(name);
    if (!v) throw noSuchVolume(name);
    return v;
  }

  list(): VolumeRecord[] {
    return [...this.volumes.values()];
  }

  references(name: string): string[] {
    return [...(this.refs.get(name) ?? [])];
  }

  isAnonymous(v: VolumeRecord): boolean {
    return !!v.Labels && Object.hasOwn(v.Labels, ANONYMOUS_LABEL);
  }

  /**
   * Creates a volume, or returns the existing one of that name (same driver). An empty name
   * makes an anonymous volume: a random 64-hex name and the anonymous label.
   */
  async create(name: string, opts: CreateVolumeOptions = {}): Promise<{ volume: VolumeRecord; created: boolean }> {
    let labels = opts.labels && Object.keys(opts.labels).length ? { ...opts.labels } : null;
    if (!name) {
      name = randomBytes(32).toString('hex');
      labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    }
    const driver = opts.driver || DEFAULT_DRIVER;
    return this.lock.run(name, async () => {
      const existing = this.volumes.get(name);
      if (existing) {
        if (opts.driver && existing.Driver !== driver) {
          throw opError('create', name, conflict(`driver '${existing.Driver}' already has volume '${name}': volume name must be unique`));
        }
        if (opts.reference) this.refs.get(name)?.add(opts.reference);
        return { volume: existing, created: false };
      }
      try {
        if (driver !== DEFAULT_DRIVER) throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
        validateVolumeName(name);
        validateLocalOptions(opts.options);
      } catch (err) {
        throw opError('create', name, err);
      }
      const dir = join(this.root, name);
      const options = opts.options && Object.keys(opts.options).length ? { ...opts.options } : null;
      const v: VolumeRecord = { Name: name, Driver: driver, Labels: labels, Options: options, CreatedAt: rfc3339Local() };
      try {
        await mkdir(dir, { recursive: true, mode: 0o701 });
        await mkdir(join(dir, DATA_DIR), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        await writeJsonAtomic(join(dir, METADATA_FILE), v, 0o600);
      } catch (err) {
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        throw opError('create', name, systemError(`error while creating volume root path '${dir}': ${(err as Error).message}`, err));
      }
      this.volumes.set(name, v);
      this.refs.set(name, new Set(opts.reference ? [opts.reference] : []));
      this.hooks.created?.(v);
      return { volume: v, created: true };
    });
  }

  addReference(name: string, ref: string): void {
    this.refs.get(name)?.add(ref);
  }

  release(name: string, ref: string): void {
    this.refs.get(name)?.delete(ref);
  }

  /** Makes the volume usable for `ref` (mounting it for its first user); returns the data path. */
  async mount(name: string, ref: string): Promise<string> {
    const v = this.mustGet(name);
    return this.lock.run(name, async () => {
      const users = this.active.get(name) ?? new Set<string>();
      if (users.size === 0 && needsMount(v.Options) && !(await isMountPoint(this.dataPath(name)))) {
        await mountLocal(v.Options!, this.dataPath(name));
      }
      users.add(ref);
      this.active.set(name, users);
      return this.dataPath(name);
    });
  }

  /** Drops `ref`'s use; the last user's going unmounts a volume that has a mount of its own. */
  async unmount(name: string, ref: string): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) return;
    await this.lock.run(name, async () => {
      const users = this.active.get(name);
      users?.delete(ref);
      if (users && users.size > 0) return;
      this.active.delete(name);
      if (needsMount(v.Options)) await unmountLocal(this.dataPath(name));
    });
  }

  /** Daemon start: `ref` (a running container) already uses the mounted volume. */
  restoreActive(name: string, ref: string): void {
    if (!this.volumes.has(name)) return;
    const users = this.active.get(name) ?? new Set<string>();
    users.add(ref);
    this.active.set(name, users);
  }

  /** Daemon start, after restoreActive: volumes left mounted with no user are unmounted. */
  async unmountUnused(): Promise<void> {
    for (const v of this.volumes.values()) {
      if (!needsMount(v.Options) || this.active.get(v.Name)?.size) continue;
      await unmountLocal(this.dataPath(v.Name)).catch((err) => this.hooks.log?.(`volume ${v.Name}: ${err}`));
    }
  }

  /** Removes an unreferenced volume and its data; `purgeOnError` makes a missing volume no error. */
  async remove(name: string, opts: { purgeOnError?: boolean } = {}): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) {
      if (opts.purgeOnError) return;
      throw noSuchVolume(name);
    }
    await this.lock.run(name, async () => {
      const refs = this.references(name);
      if (refs.length) throw conflict(`remove ${name}: volume is in use - [${refs.join(', ')}]`);
      if (this.active.get(name)?.size) throw opError('remove', name, systemError('volume has active mounts'));
      const data = this.dataPath(name);
      // Never delete through a mount: with `o=bind` the data would be the host directory's.
      await unmountLocal(data).catch((err) => {
        throw opError('remove', name, err);
      });
      if (await isMountPoint(data)) throw opError('remove', name, systemError(`${data} is still mounted`));
      await rm(join(this.root, name), { recursive: true, force: true }).catch((err: Error) => {
        throw opError('remove', name, systemError(`error removing volume path '${join(this.root, name)}': ${err.message}`, err));
      });
      this.volumes.delete(name);
      this.refs.delete(name);
      this.active.delete(name);
      this.hooks.removed?.(v);
    });
  }
}
