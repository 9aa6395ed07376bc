/**
 * Docker's restart-policy decision with its back-off: the delay starts at 100 ms, doubles on
 * each restart up to one minute, and resets when the container ran for 10 s or more.
 */
import type { RestartPolicy } from '../../api/types.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

export class RestartManager {
  private delayMs = 0;
  private restartCount = 0;
  private canceled = false;

  constructor(private policy: RestartPolicy = {}) {}

  setPolicy(policy: RestartPolicy): void {
    this.policy = policy;
  }

  /** Stops every future restart (the user stopped or removed the container). */
  cancel(): void {
    this.canceled = true;
  }

  /** A fresh start by the user re-arms the manager. */
  reset(): void {
    this.canceled = false;
    this.delayMs = 0;
    this.restartCount = 0;
  }

  get isCanceled(): boolean {
    return this.canceled;
  }

  get count(): number {
    return this.restartCount;
  }

  /**
   * Whether to restart after an exit, and after how long. `manuallyStopped` is true when the
   * user stopped the container (or the daemon is shutting down).
   */
  shouldRestart(exitCode: number, manuallyStopped: boolean, ranForMs: number): { restart: boolean; delayMs: number } {
    if (this.canceled) return { restart: false, delayMs: 0 };
    if (ranForMs >= RESET_AFTER_MS) this.delayMs = 0;
    this.delayMs = this.delayMs === 0 ? FIRST_DELAY_MS : Math.min(this.delayMs * 2, MAX_DELAY_MS);
    if (!policyWantsRestart(this.policy, exitCode, manuallyStopped, this.restartCount)) {
      return { restart: false, delayMs: 0 };
    }
    this.restartCount++;
    return { restart: true, delayMs: this.delayMs };
  }
}

/** The policy alone, as at daemon start: `always` restarts even a manually stopped container. */
export function policyWantsRestart(
  policy: RestartPolicy,
  exitCode: number,
  manuallyStopped: boolean,
  restartCount: number,
): boolean {
  switch (policy.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !manuallyStopped;
    case 'on-failure': {
      const max = policy.MaximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default:
      return false;
  }
}
