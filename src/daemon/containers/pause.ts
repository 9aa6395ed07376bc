/**
 * POST /containers/{id}/pause and /unpause: the runtime freezes and thaws the container's
 * cgroup (freezer). State.Paused/Status "paused" are persisted; `pause` and `unpause` events.
 * Errors and their statuses are Docker's (daemon/pause.go, unpause.go).
 */
import { conflict, systemError } from '../../lib/errors.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess, setPaused, setUnpaused } from '../../container/state.js';
import type { ContainerAccess } from './access.js';
import { containerActor } from './events.js';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class ContainerPause {
  constructor(private readonly c: ContainerAccess) {}

  async pause(ref: string): Promise<void> {
    const rec = this.c.get(ref);
    await this.c.locked(rec.ID, () => this.pauseLocked(rec));
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.c.get(ref);
    await this.c.locked(rec.ID, () => this.unpauseLocked(rec));
  }

  /**
   * Commit's pause (Docker's commit ignores its errors): pauses a container that is running and
   * not paused, under the lock; false when there was nothing to pause (it exited meanwhile).
   */
  async pauseIfRunning(ref: string): Promise<boolean> {
    const rec = this.c.get(ref);
    return this.c.locked(rec.ID, async () => {
      if (!hasProcess(rec.State) || rec.State.Paused) return false;
      try {
        await this.pauseLocked(rec);
        return true;
      } catch (err) {
        this.c.deps.log(`commit: pause ${rec.ID}: ${message(err)}`);
        return false;
      }
    });
  }

  /** For callers that already hold the container's lock. */
  async pauseLocked(rec: ContainerRecord): Promise<void> {
    if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.ID} is already paused`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
    try {
      await this.c.deps.runtime.pause(rec.ID);
    } catch (err) {
      throw systemError(`cannot pause container ${rec.ID}: ${message(err)}`, err);
    }
    setPaused(rec.State);
    this.c.deps.events.log('container', 'pause', containerActor(rec));
    await this.c.save(rec).catch((err) => this.c.deps.log(`could not save container to disk: ${err}`));
  }

  async unpauseLocked(rec: ContainerRecord): Promise<void> {
    // Docker's text and status (a plain error: 500).
    if (!rec.State.Paused) throw systemError(`Container ${rec.ID} is not paused`);
    if (!hasProcess(rec.State)) throw conflict(`container ${rec.ID} is not running`);
    try {
      await this.c.deps.runtime.resume(rec.ID);
    } catch (err) {
      throw systemError(`Cannot unpause container ${rec.ID}: ${message(err)}`, err);
    }
    setUnpaused(rec.State);
    this.c.deps.events.log('container', 'unpause', containerActor(rec));
    await this.c.save(rec).catch((err) => this.c.deps.log(`could not save container to disk: ${err}`));
  }
}
