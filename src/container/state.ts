/**
 * The container state machine, as Docker's container.State: transitions mutate the state in
 * place and keep `Status` in step with the flags; the predicates and texts read the flags the
 * way Docker does (`Status` is derived, never trusted on its own).
 */
import { humanDuration } from '../lib/human-duration.js';
import { rfc3339NanoFromNs, rfc3339ToNs, wallClockNs } from '../lib/wall-clock.js';
import { ZERO_TIME, type ContainerState, type ContainerStatus } from './container.js';

// ---- time -------------------------------------------------------------------------------

/** RFC3339 with nine fraction digits in UTC (`2026-11-23T08:19:52.123000000Z`), as log lines carry it; JS dates give milliseconds. */
export function formatRFC3339Nano(date: Date | number): string {
  const d = typeof date === 'number' ? new Date(date) : date;
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/**
 * A UTC RFC3339(Nano) timestamp as Go's time.Time prints itself (`%v`, String()): `2006-01-02
 * 15:04:05.999999999 +0000 UTC`, trailing zeros of the fraction dropped. Another form comes back
 * as it is.
 */
export function goUtcTimeString(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(time);
  if (!m) return time;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} +0000 UTC`;
}

/** Docker's zero time (`0001-01-01T00:00:00Z`), or empty/unparseable. */
export function isZeroTime(time: string | undefined): boolean {
  return !time || time === ZERO_TIME || time.startsWith('0001-01-01T');
}

/**
 * Unix time in seconds (fractional, nanosecond digits kept as far as a double allows) of an
 * RFC3339(Nano) timestamp in any offset; NaN when it does not parse.
 */
export function parseRFC3339Seconds(time: string): number {
  const ns = rfc3339ToNs(time);
  return ns === undefined ? Number.NaN : Number(ns) / 1e9;
}

/** Milliseconds since the epoch of an RFC3339(Nano) timestamp; NaN when it does not parse. */
export function parseRFC3339Ms(time: string): number {
  return parseRFC3339Seconds(time) * 1000;
}

export { humanDuration };

// ---- derived status -----------------------------------------------------------------------

/**
 * Docker's State.StateString(). Restarting wins over Running/Paused whether or not the caller
 * keeps Running set while restarting (Docker does; setRestarting below does too).
 */
export function stateStatus(s: ContainerState): ContainerStatus {
  if (s.Restarting) return 'restarting';
  if (s.Running || s.Paused) return s.Paused ? 'paused' : 'running';
  if (s.RemovalInProgress) return 'removing';
  if (s.Dead) return 'dead';
  if (isZeroTime(s.StartedAt)) return 'created';
  return 'exited';
}

/** The STATUS column of `docker ps` (Docker's State.String()), relative to `now` (ms). */
export function statusText(s: ContainerState, now: number = Date.now()): string {
  if (s.Restarting) {
    return `Restarting (${s.ExitCode}) ${humanDuration(now - parseRFC3339Ms(s.FinishedAt))} ago`;
  }
  if (s.Running || s.Paused) {
    const up = `Up ${humanDuration(now - parseRFC3339Ms(s.StartedAt))}`;
    if (s.Paused) return `${up} (Paused)`;
    if (s.Health) return `${up} (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
    return up;
  }
  if (s.RemovalInProgress) return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (isZeroTime(s.StartedAt)) return 'Created';
  if (isZeroTime(s.FinishedAt)) return '';
  return `Exited (${s.ExitCode}) ${humanDuration(now - parseRFC3339Ms(s.FinishedAt))} ago`;
}

/** Health as the `health` list filter sees it. */
export function healthStatus(s: ContainerState): 'none' | 'starting' | 'healthy' | 'unhealthy' {
  return s.Health ? s.Health.Status : 'none';
}

// ---- predicates -----------------------------------------------------------------------------

/** True while a process exists or is about to be restarted (Docker's State.Running, paused included). */
export const isRunning = (s: ContainerState): boolean => s.Running || s.Paused;
export const isPaused = (s: ContainerState): boolean => s.Paused;
export const isRestarting = (s: ContainerState): boolean => s.Restarting;
export const isRemovalInProgress = (s: ContainerState): boolean => s.RemovalInProgress;
export const isDead = (s: ContainerState): boolean => s.Dead;
/** Not running and not waiting for a restart. */
export const isStopped = (s: ContainerState): boolean => !s.Running && !s.Paused && !s.Restarting;
export const hasBeenStarted = (s: ContainerState): boolean => !isZeroTime(s.StartedAt);
/** A process exists (running or paused): Running without a pending restart. */
export const hasProcess = (s: ContainerState): boolean => s.Running && !s.Restarting;

// ---- transitions ------------------------------------------------------------------------------

function sync(s: ContainerState): ContainerState {
  s.Status = stateStatus(s);
  return s;
}

/** The process is up (Docker's setRunning): clears the last error, exit code and OOM flag. */
export function setRunning(s: ContainerState, pid: number, now: bigint = wallClockNs()): ContainerState {
  s.Error = '';
  s.Running = true;
  s.Paused = false;
  s.Restarting = false;
  s.ExitCode = 0;
  s.Pid = pid;
  s.OOMKilled = false;
  s.StartedAt = rfc3339NanoFromNs(now);
  return sync(s);
}

/** The process ended (Docker's SetStopped). */
export function setStopped(s: ContainerState, exitCode: number, now: bigint = wallClockNs(), oomKilled = false): ContainerState {
  s.Running = false;
  s.Paused = false;
  s.Restarting = false;
  s.Pid = 0;
  s.ExitCode = exitCode;
  s.OOMKilled = oomKilled;
  s.FinishedAt = rfc3339NanoFromNs(now);
  return sync(s);
}

/**
 * The process ended and a restart policy will start it again (Docker's SetRestarting).
 * As in Docker, Running stays true while restarting, so `ps` lists it and stop/rm treat it as live.
 */
export function setRestarting(s: ContainerState, exitCode: number, now: bigint = wallClockNs(), oomKilled = false): ContainerState {
  s.Running = true;
  s.Restarting = true;
  s.Paused = false;
  s.Pid = 0;
  s.ExitCode = exitCode;
  s.OOMKilled = oomKilled;
  s.FinishedAt = rfc3339NanoFromNs(now);
  return sync(s);
}

/**
 * A start failed (Docker's start defer: SetError, a non-zero exit code): no process, not
 * restarting; a container that ran before gets a new FinishedAt, a new one stays `created`.
 */
export function setStartFailed(s: ContainerState, exitCode: number, err: unknown, now: bigint = wallClockNs()): ContainerState {
  s.Running = false;
  s.Paused = false;
  s.Restarting = false;
  s.Pid = 0;
  s.ExitCode = exitCode;
  setError(s, err);
  if (hasBeenStarted(s)) s.FinishedAt = rfc3339NanoFromNs(now);
  return sync(s);
}

/** A pending restart was cancelled (stop during back-off): the container is plainly exited. */
export function cancelRestarting(s: ContainerState): ContainerState {
  s.Running = false;
  s.Restarting = false;
  s.Paused = false;
  s.Pid = 0;
  return sync(s);
}

export function setPaused(s: ContainerState): ContainerState {
  s.Paused = true;
  return sync(s);
}

export function setUnpaused(s: ContainerState): ContainerState {
  s.Paused = false;
  return sync(s);
}

/** Marks removal under way; returns true when it already was (Docker's SetRemovalInProgress). */
export function setRemoving(s: ContainerState): boolean {
  if (s.RemovalInProgress) return true;
  s.RemovalInProgress = true;
  sync(s);
  return false;
}

export function resetRemoving(s: ContainerState): ContainerState {
  s.RemovalInProgress = false;
  return sync(s);
}

/** Removal failed half-way: Docker marks the container dead and retries at daemon start. */
export function setDead(s: ContainerState): ContainerState {
  s.Dead = true;
  s.RemovalInProgress = false;
  return sync(s);
}

/** Docker's SetError: the last error of start/stop/remove, shown as State.Error. */
export function setError(s: ContainerState, err: unknown): ContainerState {
  s.Error = err === undefined || err === null ? '' : err instanceof Error ? err.message : String(err);
  return s;
}
