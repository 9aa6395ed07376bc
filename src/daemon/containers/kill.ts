/** Signals to a container's process, and Docker's Kill that waits for the exit (stop, kill, rm -f). */
import type { WaitResponse } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess, setUnpaused } from '../../container/state.js';
import { systemError } from '../../lib/errors.js';
import { within } from '../../lib/within.js';
import type { ContainerCore } from './core.js';
import { containerActor } from './events.js';

/** Docker's Kill: how long to wait for the exit after SIGKILL through the runtime, then after a direct SIGKILL. */
const KILL_WAIT_MS = 10_000;
const DIRECT_KILL_WAIT_MS = 2_000;

/**
 * Docker's Kill: SIGKILL through the runtime and wait for the exit; a process still there after
 * 10 s is killed directly, and one that outlives that by 2 s is an error, not a hang.
 */
export async function killAndWait(c: ContainerCore, rec: ContainerRecord, exited: Promise<WaitResponse>): Promise<void> {
  await sendSignal(c, rec, 9);
  await thawIfPaused(c, rec);
  if (await within(exited, KILL_WAIT_MS)) return;
  c.deps.log(`container ${rec.ID} did not exit within ${KILL_WAIT_MS / 1000} s of SIGKILL: killing its process directly`);
  // A pause that came after the thaw above (pause does not wait for a kill) froze it again.
  await thawIfPaused(c, rec);
  if (rec.State.Pid > 0) {
    try {
      process.kill(rec.State.Pid, 'SIGKILL');
    } catch (err) {
      c.deps.log(`kill ${rec.State.Pid}: ${err}`);
    }
  }
  if (!(await within(exited, DIRECT_KILL_WAIT_MS))) throw systemError('tried to kill container, but did not receive an exit event');
}

export async function sendSignal(c: ContainerCore, rec: ContainerRecord, signal: number): Promise<void> {
  try {
    // false: the process exited since the check (its runtime container perhaps deleted, and even
    // created again by a start since, which this signal was not meant for). moby answers a kill
    // that finds the task gone as done, and reports it while the container is still running to
    // it (its exit not handled yet); never after the container's end, let alone its destroy.
    const delivered = await c.deps.runtime.kill(rec.ID, signal);
    if (delivered || (c.records.get(rec.ID) === rec && hasProcess(rec.State))) {
      c.deps.events.log('container', 'kill', containerActor(rec, { signal: String(signal) }));
    }
  } catch (err) {
    // A runtime that words it otherwise: the process is gone when the runtime says so.
    const st = await c.deps.runtime.state(rec.ID).catch(() => undefined);
    if (st && st.status !== 'stopped') throw err;
  }
}

/**
 * A frozen process acts on no signal until it is thawed (cgroup v1's freezer holds back even
 * SIGKILL, and a direct kill(2) gets none of the thaw runc's own kill does): as Docker does, a
 * paused container is resumed after a signal meant to stop it. Under the container's lock, as in
 * Docker: a thaw beside a pause makes runc's freeze fail ("unexpected state THAWED while freezing").
 */
export async function thawIfPaused(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  if (!rec.State.Paused) return;
  await c.lock.run(rec.ID, async () => {
    if (!rec.State.Paused || !hasProcess(rec.State)) return;
    try {
      await c.deps.runtime.resume(rec.ID);
      // Docker reports the resume its kill makes (containerd's resume event) as an unpause.
      c.deps.events.log('container', 'unpause', containerActor(rec));
    } catch (err) {
      c.deps.log(`resume ${rec.ID}: ${err}`);
      // Mostly the process is gone (its exit is handled apart); one that runc still has frozen stays paused.
      if ((await c.deps.runtime.state(rec.ID).catch(() => undefined))?.status === 'paused') return;
    }
    setUnpaused(rec.State);
  });
}
