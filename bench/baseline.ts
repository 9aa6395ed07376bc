/**
 * The benches' second wharfd: with BENCH_BASELINE_MAIN (another build's dist/daemon/main.js) a
 * daemon of that build, started as the harness starts ours, so that a change is measured before
 * and after in one alternated run. null without it.
 */
import { startDaemon, type Daemon } from '../test/integration/harness.js';

export function startBaselineDaemon(): Promise<Daemon | null> {
  const main = process.env.BENCH_BASELINE_MAIN;
  if (!main) return Promise.resolve(null);
  // `exec node <baseline main> <wharfd flags>`: the harness's prefix runs before `node <main> <flags>`.
  return startDaemon({ prefix: ['sh', '-c', 'shift; exec "$0" "$BASELINE_MAIN" "$@"'], env: { BASELINE_MAIN: main } });
}

/** The engines a bench alternates: ours, the baseline build's and BENCH_DOCKER_HOST's, by name. */
export function engineHosts(daemon: Daemon, baseline: Daemon | null): Record<string, string> {
  const hosts: Record<string, string> = { wharfd: daemon.host };
  if (baseline) hosts.baseline = baseline.host;
  if (process.env.BENCH_DOCKER_HOST) hosts.docker = process.env.BENCH_DOCKER_HOST;
  return hosts;
}
