/**
 * The on-disk container store: <data-root>/containers/<id>/config.v2.json (the record without
 * HostConfig) and hostconfig.json, as Docker lays them out. Writes are atomic and, per
 * container, applied in call order; the store also owns the name/ID index.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Trash } from '../lib/trash.js';
import { noSuchContainer } from '../lib/errors.js';
import { readJson, readJsonIfExists, writeFileAtomic } from '../lib/atomic-file.js';
import type { HostConfig } from '../api/types.js';
import { initialState, type ContainerRecord } from './container.js';
import { NameIndex } from './name-index.js';

export const CONFIG_FILE = 'config.v2.json';
export const HOSTCONFIG_FILE = 'hostconfig.json';

export interface ContainerStoreOptions {
  /** Where "skipped a broken container dir" goes; stderr by default. */
  log?: (msg: string) => void;
  /** Deletes a removed container's dir in the background (lib/trash.ts); at once without it. */
  trash?: Trash;
}

const ID_RE = /^[0-9a-f]{64}$/;

export class ContainerStore {
  readonly root: string;
  readonly names = new NameIndex();
  private readonly records = new Map<string, ContainerRecord>();
  /** Per-ID tail of the write queue, so that a later save never lands before an earlier one. */
  private readonly writes = new Map<string, Promise<void>>();
  /** hostconfig.json as last written (or read) per ID: most saves (start, exit) leave it as it is. */
  private readonly hostConfigOnDisk = new Map<string, string>();
  /** Records whose container was removed: a late save of one must not bring its directory back. */
  private readonly removed = new WeakSet<ContainerRecord>();
  private readonly log: (msg: string) => void;
  private readonly trash?: Trash;

  constructor(dataRoot: string, opts: ContainerStoreOptions = {}) {
    this.root = join(dataRoot, 'containers');
    this.log = opts.log ?? ((msg) => process.stderr.write(`${msg}\n`));
    this.trash = opts.trash;
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  get(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /**
   * Reads every container directory (daemon start). A directory that cannot be read or parsed
   * is logged and skipped, never fatal. Names are reserved in `names` (duplicates logged).
   */
  async load(): Promise<ContainerRecord[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const loaded = (await Promise.all(entries.map((id) => this.loadOne(id)))).filter((r): r is ContainerRecord => !!r);
    // Two records of one name (a crash's leftover): the newest keeps it, as the one the user made
    // last; the other gets a new name, so that it can still be found and removed.
    loaded.sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const renamed: ContainerRecord[] = [];
    for (const rec of loaded) {
      try {
        this.names.reserve(rec.Name, rec.ID);
      } catch (err) {
        const name = `/${this.names.generate(rec.ID)}`;
        this.log(`container store: ${rec.ID}: name ${rec.Name} not reserved (${(err as Error).message}): renamed ${name}`);
        rec.Name = name;
        this.names.reserve(name, rec.ID);
        renamed.push(rec);
      }
      this.records.set(rec.ID, rec);
    }
    for (const rec of renamed) await this.save(rec).catch((err) => this.log(`container store: ${rec.ID}: saving its new name: ${err}`));
    return loaded;
  }

  private async loadOne(id: string): Promise<ContainerRecord | undefined> {
    if (!ID_RE.test(id)) {
      this.log(`container store: skipping ${join(this.root, id)}: not a container ID`);
      return undefined;
    }
    const dir = this.dir(id);
    try {
      const rec = await readJson<ContainerRecord>(join(dir, CONFIG_FILE));
      if (!rec || typeof rec !== 'object' || typeof rec.ID !== 'string') throw new Error(`${CONFIG_FILE} is not a container record`);
      if (rec.ID !== id) throw new Error(`container ${rec.ID} is stored at ${id}`);
      const hostConfig = await readJsonIfExists<HostConfig>(join(dir, HOSTCONFIG_FILE));
      rec.HostConfig = hostConfig ?? {};
      if (hostConfig) this.hostConfigOnDisk.set(id, JSON.stringify(hostConfig));
      return normalize(rec);
    } catch (err) {
      this.log(`container store: skipping ${dir}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /**
   * Writes config.v2.json and hostconfig.json atomically (each file is old or new after a
   * crash; the two side by side, as neither orders the other) and records the container as
   * known. The record is serialised at call time; a hostconfig.json that would not change is
   * not written again. `durable: false` leaves out the fsyncs (see writeFileAtomic).
   */
  save(record: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    if (this.removed.has(record)) return Promise.reject(noSuchContainer(record.ID));
    const { HostConfig, ...config } = record;
    const configJson = JSON.stringify(config);
    const hostConfigJson = JSON.stringify(HostConfig ?? {});
    const dir = this.dir(record.ID);
    this.records.set(record.ID, record);
    const prev = this.writes.get(record.ID) ?? Promise.resolve();
    const next = prev
      .catch(() => {})
      .then(async () => {
        const hostConfigChanged = this.hostConfigOnDisk.get(record.ID) !== hostConfigJson;
        // Forgotten until written: a failed write is retried by the next save.
        if (hostConfigChanged) this.hostConfigOnDisk.delete(record.ID);
        // Both settle before the next save of this ID starts, even when one fails.
        const results = await Promise.allSettled([
          writeFileAtomic(join(dir, CONFIG_FILE), configJson, 0o600, opts),
          hostConfigChanged ? writeFileAtomic(join(dir, HOSTCONFIG_FILE), hostConfigJson, 0o600, opts).then(() => this.hostConfigOnDisk.set(record.ID, hostConfigJson)) : undefined,
        ]);
        for (const r of results) if (r.status === 'rejected') throw r.reason;
      });
    this.writes.set(record.ID, next);
    void next.finally(() => {
      if (this.writes.get(record.ID) === next) this.writes.delete(record.ID);
    }).catch(() => {});
    return next;
  }

  /** Deletes the container directory (after pending writes) and forgets the record. Names are the caller's. */
  async remove(id: string): Promise<void> {
    if (!ID_RE.test(id)) throw new Error(`refusing to remove ${id}: not a container ID`);
    // Refused from now on, not once the earlier writes are done: a save queued behind them would
    // write into a directory that is gone (and make it again, for the next start to load).
    const rec = this.records.get(id);
    if (rec) this.removed.add(rec);
    await (this.writes.get(id) ?? Promise.resolve()).catch(() => {});
    this.records.delete(id);
    this.hostConfigOnDisk.delete(id);
    try {
      if (this.trash) await this.trash.discard(this.dir(id));
      else await rm(this.dir(id), { recursive: true, force: true });
    } catch (err) {
      // Still there: the caller keeps the record (Dead), and its saves, as before the removal.
      if (rec) this.removed.delete(rec);
      throw err;
    }
  }
}

/** Fills fields a record written by an older Wharf may lack, so the rest of the engine can rely on them. */
function normalize(rec: ContainerRecord): ContainerRecord {
  rec.State = { ...initialState(), ...(rec.State ?? {}) };
  rec.Args ??= [];
  rec.Config ??= {};
  rec.MountPoints ??= {};
  rec.NetworkSettings ??= { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: {} };
  rec.NetworkSettings.Ports ??= {};
  rec.NetworkSettings.Networks ??= {};
  rec.RestartCount ??= 0;
  rec.HasBeenManuallyStopped ??= false;
  rec.HasBeenStartedBefore ??= false;
  return rec;
}
