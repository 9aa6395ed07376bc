/**
 * The stop signal, sent again when the container's init certainly dropped it.
 *
 * A pid namespace's init drops a signal it leaves at the default action. A stop that comes the
 * moment a container starts can reach its init before the init installs its handler (a shell's
 * trap, tini, busybox top), and then only the kill at the end of the timeout ends it: a graceful
 * stop the user asked for becomes a 10 s wait and exit 137. Docker has the same race, only a
 * narrower window (its start returns later). When the init had the signal at the default both
 * just before and just after it was sent, the signal was dropped, so it is sent once more as soon
 * as the init catches it, while the stop still waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess } from '../../container/state.js';
import type { ContainerCore } from './core.js';
import { sendSignal } from './kill.js';

/** How often a dropped signal's init is looked at: soon after the start, then less often. */
const FIRST_LOOK_MS = 5;
const MAX_LOOK_MS = 200;

/** Sends `signal`; resends it as described above until `stopping()` turns false. */
export async function sendStopSignal(c: ContainerCore, rec: ContainerRecord, signal: number, stopping: () => boolean): Promise<void> {
  const disposition = c.deps.runtime.initSignalDisposition?.bind(c.deps.runtime);
  const before = disposition ? await disposition(rec.ID, signal) : undefined;
  await sendSignal(c, rec, signal);
  if (!disposition || before !== 'default' || (await disposition(rec.ID, signal)) !== 'default') return;
  void resendWhenCaught(c, rec, signal, stopping, disposition).catch((err: unknown) => c.deps.log(`stop ${rec.ID}: sending signal ${signal} again: ${(err as Error).message}`));
}

async function resendWhenCaught(
  c: ContainerCore,
  rec: ContainerRecord,
  signal: number,
  stopping: () => boolean,
  disposition: (id: string, signal: number) => Promise<string | undefined>,
): Promise<void> {
  for (let wait = FIRST_LOOK_MS; ; wait = Math.min(wait * 2, MAX_LOOK_MS)) {
    await sleep(wait);
    if (!stopping() || c.records.get(rec.ID) !== rec || !hasProcess(rec.State)) return;
    const now = await disposition(rec.ID, signal);
    if (now === 'caught' || now === 'blocked') {
      c.deps.log(`stop ${rec.ID}: its init dropped signal ${signal} (no handler yet): sent again`);
      await c.deps.runtime.kill(rec.ID, signal);
      return;
    }
    if (now !== 'default') return;
  }
}
