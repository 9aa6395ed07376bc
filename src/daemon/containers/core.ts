/**
 * What the container lifecycle's verbs share: the records, each container's lock, the exit and
 * removal signals, attaches waiting for a start, restart managers and timers, the rootfs mounts
 * and the deps. ContainerService (service.ts) owns one; the verb modules take it as `c`.
 */
import type { WaitResponse } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess } from '../../container/state.js';
import { isEngineError, noSuchContainer } from '../../lib/errors.js';
import { KeyedSignal } from '../../lib/keyed-signal.js';
import { KeyedMutex } from '../../lib/mutex.js';
import type { ContainerDeps } from './deps.js';
import { RestartManager } from './restart-manager.js';
import { RootfsMounts } from './rootfs-mounts.js';
import { LegacyLinks } from '../legacy-links.js';

/** An attach made before start: it joins between runtime create and start. */
export interface PendingAttach {
  connect(): Promise<void>;
  /** The start failed or the container went away: end the session. */
  cancel(): void;
}

export class ContainerCore {
  readonly records = new Map<string, ContainerRecord>();
  /** Legacy --link relations (default bridge env and hosts; aliases on user networks). */
  readonly links = new LegacyLinks();
  readonly lock = new KeyedMutex();
  /** Waiters for a container's next exit (Docker's stop waiters: notified on stop and on restarting). */
  readonly exits = new KeyedSignal<WaitResponse>();
  readonly removals = new KeyedSignal<WaitResponse>();
  readonly pendingAttach = new Map<string, Set<PendingAttach>>();
  readonly restartManagers = new Map<string, RestartManager>();
  readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Starts under way (start.ts's startLocked), by container ID. */
  readonly starts = new Map<string, Promise<void>>();
  /** Network namespace files being unmounted after an exit (cleanup.ts). */
  readonly netnsReleases = new Map<string, Promise<void>>();
  /**
   * Variables a container's process gets beyond its config (a build step's secrets), by
   * container: in memory only, never in its record, its inspect or its config file.
   */
  readonly processEnv = new Map<string, string[]>();
  /** Daemon shutdown: no more restarts or auto-removes. */
  closed = false;
  readonly rootfs: RootfsMounts;

  constructor(readonly deps: ContainerDeps) {
    this.rootfs = new RootfsMounts(deps.layers);
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** The record for a name, full ID or unique ID prefix; NotFound `No such container: ref`. */
  get(ref: string): ContainerRecord {
    const linked = this.linkedChild(ref);
    if (linked) return linked;
    let id: string;
    try {
      id = this.deps.names.resolve(ref);
    } catch (err) {
      if (isEngineError(err, 'NotFound')) throw noSuchContainer(ref);
      throw err;
    }
    const rec = this.records.get(id);
    if (!rec) throw noSuchContainer(ref);
    return rec;
  }

  /** A link's name, `[/]parent/alias`, is a name of the child too (moby reserves it for the child). */
  private linkedChild(ref: string): ContainerRecord | undefined {
    const m = /^\/?([^/]+)\/([^/]+)$/.exec(ref);
    if (!m) return undefined;
    const parentId = this.deps.names.idOf(m[1]!);
    const childId = parentId === undefined ? undefined : this.links.child(parentId, m[2]!);
    return childId === undefined ? undefined : this.records.get(childId);
  }

  /**
   * Settles once a start under way has succeeded or failed. moby holds a container's lock for its
   * whole start and its running checks take that lock, so a kill, stop, top or exec that comes
   * while the process is already out (its first output seen by an attached client) but not yet
   * marked running waits for the start instead of finding the container not running.
   */
  startSettled(rec: ContainerRecord): Promise<void> {
    return this.starts.get(rec.ID)?.catch(() => undefined) ?? Promise.resolve();
  }

  manager(rec: ContainerRecord): RestartManager {
    let m = this.restartManagers.get(rec.ID);
    if (!m) {
      m = new RestartManager(rec.HostConfig.RestartPolicy ?? {});
      this.restartManagers.set(rec.ID, m);
    }
    return m;
  }

  cancelRestartTimer(id: string): boolean {
    const t = this.restartTimers.get(id);
    if (!t) return false;
    clearTimeout(t);
    this.restartTimers.delete(id);
    return true;
  }

  /**
   * Settles at the container's next exit (at once when it has no process). The waiter is
   * registered synchronously, so an exit handled after this call is never missed; cancel()
   * drops it when the caller stops waiting.
   */
  untilExit(rec: ContainerRecord): { promise: Promise<WaitResponse>; cancel: () => void } {
    if (!hasProcess(rec.State)) return { promise: Promise.resolve({ StatusCode: rec.State.ExitCode, Error: null }), cancel: () => {} };
    return this.exits.next(rec.ID);
  }

  /** Persists a record that is still the container's: a removed container never comes back on disk. */
  async save(rec: ContainerRecord): Promise<void> {
    if (this.records.get(rec.ID) !== rec) return;
    await this.deps.store.save(rec);
  }
}
