/**
 * What happens when a container's process exits (the runtime's exit watcher, or restore for
 * exits seen while the daemon was down): release what it held, record the exit, then restart
 * it by its policy (restart-manager.ts) or remove it for --rm.
 */
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess, setRestarting, setStopped } from '../../container/state.js';
import type { ExitInfo } from '../../runtime/runtime.js';
import { ALL_HELD, releaseHeld } from './cleanup.js';
import type { ContainerCore } from './core.js';
import { containerActor, execDuration, networkActors, ranMs } from './events.js';
import { removalPending, removeLocked } from './remove.js';
import { startLocked } from './start.js';
import { isManualRestart } from './manual-restart.js';

export async function handleExit(c: ContainerCore, exit: ExitInfo): Promise<void> {
  const rec = c.records.get(exit.id);
  if (!rec) {
    // Removed meanwhile: its runtime state is normally gone already, so a failure here is expected.
    await c.deps.runtime.delete(exit.id, true).catch(() => {});
    return;
  }
  await c.lock.run(rec.ID, () => handleExitLocked(c, rec, exit));
}

/**
 * An OOM while the container runs (its process may run on): as moby on containerd's TaskOOM,
 * State.OOMKilled is set at once, saved, and an `oom` event sent. The exit keeps OOMKilled.
 * Only the first OOM of a run changes the record: a container can meet tens a second, and each
 * later one is an event alone, not a write (an fsync) of a record that says the same.
 */
export async function handleOom(c: ContainerCore, id: string): Promise<void> {
  const rec = c.records.get(id);
  if (!rec) return;
  await c.lock.run(id, async () => {
    if (c.records.get(id) !== rec || !hasProcess(rec.State)) return;
    c.deps.events.log('container', 'oom', containerActor(rec));
    if (rec.State.OOMKilled) return;
    rec.State.OOMKilled = true;
    await c.save(rec);
  });
}

export async function handleExitLocked(c: ContainerCore, rec: ContainerRecord, exit: ExitInfo): Promise<void> {
  // Removed while this exit waited for the lock, or an exit already handled.
  if (c.records.get(rec.ID) !== rec || !hasProcess(rec.State)) return;
  for (const o of c.deps.observers ?? []) o.stopped(rec);
  const id = rec.ID;
  const attachedNetworks = networkActors(rec);
  await releaseHeld(c, rec, ALL_HELD, true);
  const ran = ranMs(rec.State.StartedAt, exit.finishedAt);
  // An OOM already reported while it ran (handleOom) is not reported again.
  const oomReported = rec.State.OOMKilled;
  const decision = c.closed ? { restart: false, delayMs: 0 } : c.manager(rec).shouldRestart(exit.exitCode, rec.HasBeenManuallyStopped, ran);
  const oomKilled = exit.oomKilled || oomReported;
  if (decision.restart) setRestarting(rec.State, exit.exitCode, exit.finishedAt, oomKilled);
  else setStopped(rec.State, exit.exitCode, exit.finishedAt, oomKilled);
  // An --rm container is removed just below, one that rm -f killed once this lock is free: no
  // fsync'd save of its record first (after a crash here, restore finds it gone from runc and
  // settles it; an --rm one is removed all the same).
  const autoRemove = !decision.restart && rec.HostConfig.AutoRemove && !c.closed && !isManualRestart(rec);
  if (!autoRemove && !(removalPending(rec) && !decision.restart)) await c.save(rec);
  if (exit.oomKilled && !oomReported) c.deps.events.log('container', 'oom', containerActor(rec));
  c.deps.events.log('container', 'die', containerActor(rec, { exitCode: String(exit.exitCode), execDuration: execDuration(ran) }));
  for (const actor of attachedNetworks) c.deps.events.log('network', 'disconnect', actor);
  c.exits.emit(id, { StatusCode: exit.exitCode, Error: null });
  if (decision.restart) {
    scheduleRestart(c, rec, decision.delayMs);
  } else if (autoRemove) {
    await removeLocked(c, rec).catch(async (err) => {
      c.deps.log(`auto-remove ${id}: ${err}`);
      await c.save(rec).catch((saveErr) => c.deps.log(`save ${id}: ${saveErr}`));
    });
  }
}

function scheduleRestart(c: ContainerCore, rec: ContainerRecord, delayMs: number): void {
  const timer = setTimeout(() => {
    c.restartTimers.delete(rec.ID);
    void c.lock
      .run(rec.ID, async () => {
        // A stop, kill or remove cancelled it while this waited for the lock.
        if (!rec.State.Restarting || c.records.get(rec.ID) !== rec || c.manager(rec).isCanceled) return;
        rec.RestartCount++;
        await startLocked(c, rec);
      })
      .catch((err) => c.deps.log(`restart ${rec.ID}: ${err instanceof Error ? err.message : err}`));
  }, delayMs);
  timer.unref();
  c.restartTimers.set(rec.ID, timer);
}
