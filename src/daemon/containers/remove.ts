/** DELETE /containers/{id} and POST /containers/prune: kill (with force), release, then the layer, record, name and volumes. */
import type { Filters, PruneReport } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess, isRunning, setDead, setRemoving } from '../../container/state.js';
import { conflict, invalidParameter, systemError } from '../../lib/errors.js';
import { labelMatches, parseFilterTime } from '../../lib/filters.js';
import { failPendingAttaches } from './attach.js';
import { netnsReleased, releaseForRemoval } from './cleanup.js';
import type { ContainerCore } from './core.js';
import { containerActor } from './events.js';
import { killAndWait } from './kill.js';
import { removeImageMounts } from './image-mounts.js';

export interface RemoveOptions {
  force: boolean;
  volumes: boolean;
  link: boolean;
}

/** Containers a forced remove is killing: their exit is not saved to disk, the record is deleted next. */
const forcedRemovals = new WeakSet<ContainerRecord>();

export function removalPending(rec: ContainerRecord): boolean {
  return forcedRemovals.has(rec);
}

export async function removeContainer(c: ContainerCore, ref: string, opts: RemoveOptions): Promise<void> {
  if (opts.link) return c.links.removeLink(ref, (r) => c.get(r));
  const rec = c.get(ref);
  if (rec.State.RemovalInProgress) throw conflict(`removal of container ${ref} is already in progress`);
  try {
    await removeWithKill(c, rec, opts);
  } finally {
    forcedRemovals.delete(rec);
  }
  // `docker rm` answers with the container's veths and namespace file gone, as it did before they
  // were released in the background (an --rm container's client is told of the removal without
  // this wait).
  await Promise.all([c.deps.network.vethsDeleted(rec.ID), netnsReleased(c, rec.ID)]);
}

async function removeWithKill(c: ContainerCore, rec: ContainerRecord, opts: RemoveOptions): Promise<void> {
  for (;;) {
    if (isRunning(rec.State)) {
      if (!opts.force) {
        const what = rec.State.Paused ? 'container is paused' : rec.State.Restarting ? 'container is restarting' : 'container is running';
        throw conflict(`cannot remove container "${rec.Name}": ${what}: stop the container before removing or force remove`);
      }
      c.manager(rec).cancel();
      c.cancelRestartTimer(rec.ID);
      if (hasProcess(rec.State)) {
        const exited = c.untilExit(rec);
        forcedRemovals.add(rec);
        try {
          await killAndWait(c, rec, exited.promise);
        } finally {
          exited.cancel();
        }
      }
    }
    // A start that held the lock meanwhile leaves a process: kill it too before removing.
    const removed = await c.lock.run(rec.ID, async () => {
      if (hasProcess(rec.State)) return false;
      await removeLocked(c, rec, opts.volumes);
      return true;
    });
    if (removed) return;
  }
}

/** `removeVolumes` (rm -v; --rm by default) removes the container's anonymous volumes too. */
export async function removeLocked(c: ContainerCore, rec: ContainerRecord, removeVolumes = !!rec.HostConfig.AutoRemove): Promise<void> {
  if (c.records.get(rec.ID) !== rec) return;
  const id = rec.ID;
  setRemoving(rec.State);
  c.manager(rec).cancel();
  c.cancelRestartTimer(id);
  try {
    // On disk before anything goes, as moby checkpoints Dead: a daemon killed while the layer is
    // half removed finishes the removal at its next start (restore) instead of bringing back a
    // container whose layer is gone. A crash of the process is what this guards against, so no
    // fsync: after a power loss the record is at worst empty, and a container being removed lost.
    // A failed save (a full disk) is no reason to keep what a removal would free. An --rm
    // container that ran is removed by restore anyway, so its removal (`run --rm`) writes nothing.
    if (!(rec.HostConfig.AutoRemove && rec.HasBeenStartedBefore)) {
      await c.deps.store.save(rec, { durable: false }).catch((err) => c.deps.log(`save ${id} before its removal: ${err}`));
    }
    await releaseForRemoval(c, rec);
    // Layer first: a failure leaves the record, so the container stays visible (Dead) and removable.
    await c.deps.layers.removeRWLayer(id);
    await removeImageMounts(c.deps.layers, rec.MountPoints);
    await c.deps.store.remove(id);
  } catch (err) {
    setDead(rec.State);
    await c.deps.store.save(rec).catch((saveErr) => c.deps.log(`save ${id}: ${saveErr}`));
    throw systemError(`unable to remove container ${id}: ${err instanceof Error ? err.message : err}`, err);
  }
  c.records.delete(id);
  c.processEnv.delete(id);
  c.links.forget(id);
  c.restartManagers.delete(id);
  await c.deps.volumes?.release(rec, removeVolumes || !!rec.HostConfig.AutoRemove);
  c.deps.events.log('container', 'destroy', containerActor(rec));
  c.deps.names.release(rec.Name.slice(1), id);
  failPendingAttaches(c, id);
  c.pendingAttach.delete(id);
  // Gone, so not running: exit waiters (a restarting container's) are told too.
  c.exits.emit(id, { StatusCode: rec.State.ExitCode, Error: null });
  c.removals.emit(id, { StatusCode: rec.State.ExitCode, Error: null });
}

export async function pruneContainers(c: ContainerCore, filters: Filters): Promise<PruneReport> {
  const until = filters.until?.[0];
  const untilMs = until ? parseFilterTime(until) * 1000 : undefined;
  const labelFilters = filters.label ?? [];
  const labelNotFilters = filters['label!'] ?? [];
  for (const k of Object.keys(filters)) {
    if (!['until', 'label', 'label!'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  }
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const rec of c.all()) {
    if (isRunning(rec.State)) continue;
    if (untilMs !== undefined && Date.parse(rec.Created) >= untilMs) continue;
    if (!labelFilters.every((f) => labelMatches(rec.Config.Labels, f))) continue;
    if (labelNotFilters.some((f) => labelMatches(rec.Config.Labels, f))) continue;
    const size = await c.deps.layers.rwSize(rec.ID).catch(() => 0);
    try {
      // A start may have taken the lock since the check above: like Docker's prune (a plain
      // rm, no force), a container that is running by now is left alone.
      const removed = await c.lock.run(rec.ID, async () => {
        if (isRunning(rec.State) || c.records.get(rec.ID) !== rec) return false;
        await removeLocked(c, rec);
        return true;
      });
      if (!removed) continue;
      deleted.push(rec.ID);
      reclaimed += size;
    } catch (err) {
      c.deps.log(`prune ${rec.ID}: ${err}`);
    }
  }
  return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
}
