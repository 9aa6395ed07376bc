/**
 * What the services beside the lifecycle (archive, changes, export, commit, pause, update) need
 * of ContainerService: a record by reference, its lock, persistence and the shared deps.
 * ContainerService.access() hands it out, so those services live in their own modules.
 */
import type { ContainerRecord } from '../../container/container.js';
import type { ContainerDeps } from './deps.js';
import type { RootfsMounts } from './rootfs-mounts.js';

export interface ContainerAccess {
  /** The record for a name, full ID or unique ID prefix; NotFound `No such container: ref`. */
  get(ref: string): ContainerRecord;
  /** Runs `fn` holding the container's lock (the lifecycle's start/stop/exit take it too). */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Persists config.v2.json / hostconfig.json. */
  save(rec: ContainerRecord): Promise<void>;
  /** Tells the lifecycle the restart policy changed (update --restart). */
  restartPolicyChanged(rec: ContainerRecord): void;
  /** The rootfs mount by reference count: take one for as long as the rootfs is read or written. */
  rootfs: RootfsMounts;
  deps: ContainerDeps;
}

/** Whether `rec` is being removed or already gone: an operation that lost a race with an rm says so rather than reporting the missing file. */
export function removedMeanwhile(c: Pick<ContainerAccess, 'get'>, rec: ContainerRecord): boolean {
  if (rec.State.RemovalInProgress || rec.State.Dead) return true;
  try {
    return c.get(rec.ID) !== rec;
  } catch {
    return true;
  }
}

