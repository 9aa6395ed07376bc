/**
 * Health checks (Docker's daemon/health.go): one monitor per running container with a
 * HEALTHCHECK (CMD or CMD-SHELL). Each probe is an exec instance; its result goes into
 * State.Health (status, failing streak, the last five results), persisted with the record, and a
 * change of status is reported as a `health_status: <status>` event. The monitor stops when the
 * container stops, leaving the status `unhealthy` as Docker does.
 */
import type { HealthConfig } from '../api/types.js';
import type { ContainerRecord, HealthcheckResult, HealthState } from '../container/container.js';
import { hasProcess } from '../container/state.js';
import { rfc3339NanoNow } from '../lib/wall-clock.js';
import { formatGoDuration } from '../lib/go-duration.js';
import { containerActor } from './containers/events.js';
import type { ContainerObserver } from './containers/deps.js';
import type { EventSink } from './events.js';
import type { ExecService } from './exec.js';

const NS_PER_MS = 1_000_000;
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_START_INTERVAL_MS = 5_000;
export const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT_LEN = 4096;

export interface HealthDeps {
  exec: Pick<ExecService, 'probe'>;
  events: EventSink;
  /** Applies a change to the record under the container's lock and persists it. */
  update(id: string, change: (rec: ContainerRecord) => void): Promise<void>;
  log: (msg: string) => void;
}

interface Monitor {
  stopped: boolean;
  timer?: NodeJS.Timeout;
}

/** The probe's command, or undefined without a (usable) healthcheck. */
export function probeCommand(rec: ContainerRecord): string[] | undefined {
  const test = rec.Config.Healthcheck?.Test;
  if (!test || test.length === 0) return undefined;
  const cmd = test.slice(1);
  switch (test[0]) {
    case 'CMD':
      return cmd.length ? cmd : undefined;
    case 'CMD-SHELL': {
      if (!cmd.length) return undefined;
      const shell = rec.Config.Shell?.length ? rec.Config.Shell : ['/bin/sh', '-c'];
      return [...shell, ...cmd];
    }
    default:
      return undefined; // NONE, or an unknown type (Docker warns and ignores it)
  }
}

function withDefault(ns: number | undefined, dfltMs: number): number {
  return ns && ns > 0 ? ns / NS_PER_MS : dfltMs;
}

export interface HealthTimings {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export function healthTimings(h: HealthConfig | null | undefined): HealthTimings {
  return {
    intervalMs: withDefault(h?.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: withDefault(h?.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: withDefault(h?.StartPeriod, 0),
    startIntervalMs: withDefault(h?.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: h?.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
}

/**
 * Docker's handleProbeResult: appends the result (keeping five), resets or grows the failing
 * streak (not during the start period while still starting) and derives the status.
 */
export function applyProbeResult(health: HealthState, result: HealthcheckResult, t: HealthTimings, startedAtMs: number): HealthState {
  const log = [...(health.Log ?? []), result].slice(-MAX_LOG_ENTRIES);
  const next: HealthState = { Status: health.Status, FailingStreak: health.FailingStreak, Log: log };
  if (result.ExitCode === 0) {
    next.FailingStreak = 0;
    next.Status = 'healthy';
    return next;
  }
  const inStartPeriod = next.Status === 'starting' && Date.parse(result.Start) - startedAtMs < t.startPeriodMs;
  if (!inStartPeriod) {
    next.FailingStreak++;
    if (next.FailingStreak >= t.retries) next.Status = 'unhealthy';
  }
  return next;
}

/** Keeps the first 4096 bytes of the probe's output, "..." marking the rest. */
class LimitedOutput {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private truncated = false;

  readonly write = (chunk: Buffer): void => {
    const keep = Math.min(MAX_OUTPUT_LEN - this.size, chunk.length);
    if (keep > 0) {
      this.parts.push(chunk.subarray(0, keep));
      this.size += keep;
    }
    if (keep < chunk.length) this.truncated = true;
  };

  toString(): string {
    return Buffer.concat(this.parts).toString('utf8') + (this.truncated ? '...' : '');
  }
}

export class HealthMonitor implements ContainerObserver {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly deps: HealthDeps) {}

  started(rec: ContainerRecord, restored: boolean): void {
    const cmd = probeCommand(rec);
    if (!cmd) return;
    this.halt(rec.ID);
    // Docker's initHealthMonitor: a fresh start is `starting` again; the log is kept.
    if (!restored || !rec.State.Health) {
      rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: rec.State.Health?.Log ?? [] };
    }
    const m: Monitor = { stopped: false };
    this.monitors.set(rec.ID, m);
    this.schedule(rec, m);
  }

  stopped(rec: ContainerRecord): void {
    if (!this.halt(rec.ID)) return;
    // As Docker: a stopped monitor leaves the container unhealthy.
    if (rec.State.Health) rec.State.Health = { ...rec.State.Health, Status: 'unhealthy' };
  }

  /** Daemon shutdown: monitors stop, the saved state stays. */
  close(): void {
    for (const id of [...this.monitors.keys()]) this.halt(id);
  }

  private halt(id: string): boolean {
    const m = this.monitors.get(id);
    if (!m) return false;
    m.stopped = true;
    clearTimeout(m.timer);
    this.monitors.delete(id);
    return true;
  }

  private schedule(rec: ContainerRecord, m: Monitor): void {
    if (m.stopped) return;
    const t = healthTimings(rec.Config.Healthcheck);
    const inStartPeriod = Date.now() - Date.parse(rec.State.StartedAt) < t.startPeriodMs;
    const delay = inStartPeriod && rec.State.Health?.Status === 'starting' ? t.startIntervalMs : t.intervalMs;
    m.timer = setTimeout(() => void this.runProbe(rec, m), delay);
    m.timer.unref();
  }

  private async runProbe(rec: ContainerRecord, m: Monitor): Promise<void> {
    if (m.stopped) return;
    const cmd = probeCommand(rec);
    if (!cmd || rec.State.Paused || !hasProcess(rec.State)) return this.schedule(rec, m);
    const t = healthTimings(rec.Config.Healthcheck);
    const start = rfc3339NanoNow();
    const out = new LimitedOutput();
    let exitCode: number;
    let output: string;
    try {
      const r = await this.deps.exec.probe(rec, cmd, out.write, t.timeoutMs);
      exitCode = r.exitCode;
      output = out.toString();
      if (r.timedOut) {
        const exceeded = `Health check exceeded timeout (${formatGoDuration(Math.round(t.timeoutMs * NS_PER_MS))})`;
        output = output ? `${exceeded}: ${output}` : exceeded;
      }
    } catch (err) {
      exitCode = -1;
      output = err instanceof Error ? err.message : String(err);
    }
    if (m.stopped) return;
    const result: HealthcheckResult = { Start: start, End: rfc3339NanoNow(), ExitCode: exitCode, Output: output };
    let before: string | undefined;
    let after: string | undefined;
    await this.deps
      .update(rec.ID, (r) => {
        if (m.stopped || !r.State.Health) return;
        before = r.State.Health.Status;
        r.State.Health = applyProbeResult(r.State.Health, result, t, Date.parse(r.State.StartedAt));
        after = r.State.Health.Status;
      })
      .catch((err) => this.deps.log(`health ${rec.ID}: ${err instanceof Error ? err.message : err}`));
    if (after && before !== after) this.deps.events.log('container', `health_status: ${after}`, containerActor(rec));
    this.schedule(rec, m);
  }
}
