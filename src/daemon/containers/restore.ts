/**
 * Daemon start: takes the records found on disk, reconciles them with the runtime (containers
 * keep running while the daemon is down) and applies restart policies as Docker does at start.
 */
import type { ContainerRecord } from '../../container/container.js';
import { cancelRestarting, hasProcess, setPaused, setUnpaused } from '../../container/state.js';
import type { ContainerCore } from './core.js';
import { removeStaleNetnsFiles } from '../../network/netns-file.js';
import { handleExitLocked } from './exit.js';
import { removeLocked } from './remove.js';
import { policyWantsRestart } from './restart-manager.js';
import { startLocked } from './start.js';
import { wallClockNs } from '../../lib/wall-clock.js';

export async function restoreContainers(c: ContainerCore, records: ContainerRecord[]): Promise<void> {
  await c.deps.volumes?.restore(records);
  // Their names are in the index already: the store reserved them as it loaded the records.
  for (const rec of records) c.records.set(rec.ID, rec);
  for (const rec of records) {
    try {
      c.links.set(rec.ID, c.links.resolve(rec.HostConfig, (ref) => c.get(ref)));
    } catch (err) {
      c.deps.log(`restore: links of ${rec.ID}: ${err instanceof Error ? err.message : err}`);
    }
  }
  const toRestart: ContainerRecord[] = [];
  // One `runc list` answers for every container; a `runc state` each made start-up grow with them.
  const listed = records.length
    ? await c.deps.runtime.list().then((all) => new Map(all.map((st) => [st.id, st]))).catch(() => undefined)
    : undefined;
  await Promise.all(
    records.map(async (rec) => {
      const id = rec.ID;
      if (rec.State.RemovalInProgress || rec.State.Dead) {
        await c.lock.run(id, () => removeLocked(c, rec)).catch((err) => c.deps.log(`restore: remove ${id}: ${err}`));
        return;
      }
      // Waiting for a restart when the daemon went down: exited, and the policy decides below.
      if (rec.State.Restarting) cancelRestarting(rec.State);
      if (hasProcess(rec.State)) {
        const state = listed ? listed.get(id) : await c.deps.runtime.state(id).catch(() => undefined);
        const alive = state && (state.status === 'running' || state.status === 'paused');
        if (alive) {
          // The lifecycle's reference to the rootfs, mounted since its start.
          await c.rootfs.acquire(id).catch((err) => c.deps.log(`restore: mount ${id}: ${err}`));
          rec.State.Pid = state.pid;
          if (state.status === 'paused') setPaused(rec.State);
          else setUnpaused(rec.State);
          for (const o of c.deps.observers ?? []) o.started(rec, true);
          return;
        }
        const exit = (await c.deps.runtime.exitInfo(id).catch(() => undefined)) ?? {
          id,
          exitCode: 255,
          finishedAt: wallClockNs(),
          oomKilled: false,
        };
        await c.lock.run(id, () => handleExitLocked(c, rec, exit)).catch((err) => c.deps.log(`restore: exit ${id}: ${err}`));
        // As Docker, a restart due at daemon start happens during restore, not after the back-off.
        if (rec.State.Restarting && c.cancelRestartTimer(id)) toRestart.push(rec);
        return;
      }
      // A start the daemon died in (after runc create, before the record said running) left a
      // runtime container that would refuse the next start ("container with given ID already
      // exists"): it never ran as far as any client knows, so it goes, with its rootfs mount.
      const stale = listed?.get(id);
      if (stale) {
        await c.lock
          .run(id, async () => {
            await c.deps.runtime.delete(id, true);
            await c.rootfs.release(id);
          })
          .catch((err) => c.deps.log(`restore: removing the unfinished start of ${id}: ${err}`));
      }
      if (rec.HasBeenStartedBefore && policyWantsRestart(rec.HostConfig.RestartPolicy ?? {}, rec.State.ExitCode, rec.HasBeenManuallyStopped, 0)) {
        toRestart.push(rec);
      } else if (rec.HostConfig.AutoRemove && rec.HasBeenStartedBefore) {
        await c.lock.run(id, () => removeLocked(c, rec)).catch((err) => c.deps.log(`restore: auto-remove ${id}: ${err}`));
      }
    }),
  );
  const live = c.all().filter((r) => hasProcess(r.State));
  const running = live.map((r) => r.ID);
  await removeStaleNetnsFiles(c.deps.settings.execRoot, new Set(running), c.deps.log);
  await c.deps.network.restore(
    running,
    live.map((r) => ({ containerId: r.ID, containerName: r.Name.slice(1), networks: r.NetworkSettings.Networks ?? {} })),
  );
  for (const rec of c.links.startOrder(toRestart)) {
    await c.lock.run(rec.ID, () => startLocked(c, rec)).catch((err) => c.deps.log(`restore: restart ${rec.ID}: ${err instanceof Error ? err.message : err}`));
  }
}
