/** stop, kill and restart, with Docker's ExitOnNext (a manual stop ends the restart policy) and Kill's waits. */
import type { ContainerRecord } from '../../container/container.js';
import { cancelRestarting, hasProcess, isRunning } from '../../container/state.js';
import { EngineError, conflict, invalidParameter, isEngineError, noSuchContainer, notModified, systemError } from '../../lib/errors.js';
import { isLinuxSignal, parseSignal } from '../../lib/signals.js';
import type { ContainerCore } from './core.js';
import { containerActor } from './events.js';
import { within } from '../../lib/within.js';
import { killAndWait, sendSignal, thawIfPaused } from './kill.js';
import { startLocked } from './start.js';
import { sendStopSignal } from './stop-signal.js';
import { clearManualRestart, markManualRestart } from './manual-restart.js';

const DEFAULT_STOP_TIMEOUT_S = 10;

export interface StopOptions {
  signal?: string;
  timeout?: number;
}

/**
 * Docker's ExitOnNext: no more restarts. A pending restart is cancelled under the lock, so a
 * restart already starting is waited for (and then has a process to stop); a container that
 * was waiting for its restart is plainly exited, and its stop waiters are told.
 */
async function endRestarts(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  c.manager(rec).cancel();
  c.cancelRestartTimer(rec.ID);
  await c.lock.run(rec.ID, async () => {
    rec.HasBeenManuallyStopped = true;
    if (rec.State.Restarting) {
      cancelRestarting(rec.State);
      c.exits.emit(rec.ID, { StatusCode: rec.State.ExitCode, Error: null });
    }
    await c.save(rec);
  });
}

export async function stopContainer(c: ContainerCore, ref: string, opts: StopOptions): Promise<void> {
  const rec = c.get(ref);
  await c.startSettled(rec);
  if (!isRunning(rec.State)) throw notModified();
  await endRestarts(c, rec);
  if (hasProcess(rec.State)) await stopRunning(c, rec, opts);
  // An rm -f that came meanwhile already reported the end (destroy): nothing follows a destroy.
  if (c.records.get(rec.ID) === rec) c.deps.events.log('container', 'stop', containerActor(rec));
}

async function stopRunning(c: ContainerCore, rec: ContainerRecord, opts: StopOptions): Promise<void> {
  const signal = opts.signal ? parseSignal(opts.signal) : containerStopSignal(rec);
  let timeoutS = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
  const exited = c.untilExit(rec);
  let stopping = true;
  try {
    if (timeoutS !== 0) {
      try {
        await sendStopSignal(c, rec, signal, () => stopping);
      } catch (err) {
        // moby: a stop signal that cannot be sent (one Linux lacks) leaves 2 s, then the kill.
        c.deps.log(`stop ${rec.ID}: sending signal ${signal}: ${(err as Error).message}`);
        if (timeoutS > 0) timeoutS = 2;
      }
      await thawIfPaused(c, rec);
      if (timeoutS < 0 || (await within(exited.promise, timeoutS * 1000))) return void (await exited.promise);
    }
    stopping = false;
    await killAndWait(c, rec, exited.promise);
  } finally {
    stopping = false;
    exited.cancel();
  }
}

/**
 * Docker 28 checks the signal before looking the container up and refuses a number outside the
 * platform's signals with its own message.
 */
function killSignal(raw: string): number {
  const n = parseSignal(raw);
  if (!isLinuxSignal(n)) throw invalidParameter(`the linux daemon does not support signal ${n}`);
  return n;
}

/** The container's stop signal, SIGTERM when it has none or one that does not parse (moby's StopSignal()). */
function containerStopSignal(rec: ContainerRecord): number {
  try {
    return parseSignal(rec.Config.StopSignal || 'SIGTERM');
  } catch {
    return 15;
  }
}

/**
 * Docker's ContainerKill: SIGKILL waits for the exit; other signals are sent and return. Every
 * error says which container, as moby's kill route wraps them all (`No such container` too).
 */
export async function killContainer(c: ContainerCore, ref: string, signalName?: string): Promise<void> {
  try {
    await kill(c, ref, signalName);
  } catch (err) {
    const message = `cannot kill container: ${ref}: ${(err as Error).message}`;
    throw isEngineError(err) ? new EngineError(err.kind, message, { cause: err }) : systemError(message, err);
  }
}

async function kill(c: ContainerCore, ref: string, signalName?: string): Promise<void> {
  const signal = killSignal(signalName || 'SIGKILL');
  const rec = c.get(ref);
  await c.startSettled(rec);
  if (!isRunning(rec.State)) throw conflict(`container ${rec.ID} is not running`);
  // SIGKILL, the configured stop signal, or any signal when none is configured ends the restart policy.
  const stopSignal = rec.Config.StopSignal ? containerStopSignal(rec) : undefined;
  const stops = signal === 9 || stopSignal === undefined || stopSignal === signal;
  if (stops) await endRestarts(c, rec);
  else if (rec.State.Restarting) return;
  if (!hasProcess(rec.State)) return;
  const exited = signal === 9 ? c.untilExit(rec) : undefined;
  try {
    await sendSignal(c, rec, signal);
    if (stops) await thawIfPaused(c, rec);
    if (exited) await killAndWait(c, rec, exited.promise);
  } finally {
    exited?.cancel();
  }
}

export async function restartContainer(c: ContainerCore, ref: string, opts: StopOptions): Promise<void> {
  const rec = c.get(ref);
  // A restart during a start restarts the container it starts, as moby's lock makes it.
  await c.startSettled(rec);
  try {
    if (isRunning(rec.State)) {
      markManualRestart(rec);
      await endRestarts(c, rec);
      if (hasProcess(rec.State)) await stopRunning(c, rec, opts);
      if (c.records.get(rec.ID) === rec) c.deps.events.log('container', 'stop', containerActor(rec));
    }
    await c.lock.run(rec.ID, async () => {
      if (c.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
      if (isRunning(rec.State)) return;
      rec.HasBeenManuallyStopped = false;
      c.manager(rec).reset();
      await startLocked(c, rec);
      c.deps.events.log('container', 'restart', containerActor(rec));
    });
  } finally {
    clearManualRestart(rec);
  }
}
