/**
 * Container stats as Docker's daemon serves them: a sample of the container's cgroup, the
 * host's CPU time and the container's network counters; streams of one sample per second with
 * precpu_stats/preread taken from the previous one; zeroed samples while it is not running.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { cgroupDirsOf, emptyBlkio, readCgroupV1, readCgroupV2 } from './cgroup-read.js';
import { parseNetDev, parseProcStat } from './parse.js';
import { rfc3339NanoNow } from '../../lib/wall-clock.js';
import type { CPUStats, ContainerStatsResponse } from '../../api/types.js';
import type { StatsOptions, StatsStream } from '../../api/backend.js';

/** What the collector needs to know of a container, read live at every sample. */
export interface StatsTarget {
  id: string;
  /** `/name`, as Docker reports it. */
  name(): string;
  /** The init process while running (not restarting), else 0. */
  pid(): number;
  networkMode(): string;
  /** False once the container is removed: a stream then ends. */
  exists(): boolean;
}

export interface StatsEnv {
  cgroupVersion: '1' | '2';
  machineMemory?: number;
  procRoot?: string;
  intervalMs?: number;
}

/** Go's zero time, which Docker writes for `read`/`preread` when there is no sample. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const zeroCpu = (): CPUStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/** Docker's answer for a container that is not running: only name and id set. */
export function zeroStats(name: string, id: string): ContainerStatsResponse {
  return {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: emptyBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    precpu_stats: zeroCpu(),
    memory_stats: {},
    name,
    id,
  };
}

/** One sample of a running container; undefined when it is not running (or vanished while read). */
export async function sampleStats(target: StatsTarget, env: StatsEnv): Promise<ContainerStatsResponse | undefined> {
  const pid = target.pid();
  if (!pid) return undefined;
  const procRoot = env.procRoot ?? '/proc';
  const machineMemory = env.machineMemory ?? totalmem();
  const dirs = await cgroupDirsOf(pid, env.cgroupVersion, procRoot);
  if (!dirs) return undefined;
  const [counters, procStat, netDev] = await Promise.all([
    dirs.version === 2 ? readCgroupV2(dirs.dir, machineMemory) : readCgroupV1(dirs.dirs, machineMemory),
    readFile(`${procRoot}/stat`, 'utf8'),
    target.networkMode() === 'host' ? Promise.resolve(undefined) : readFile(`${procRoot}/${pid}/net/dev`, 'utf8').catch(() => undefined),
  ]);
  // The process may have exited while its files were read: then this is not a sample.
  if (target.pid() !== pid) return undefined;
  const system = parseProcStat(procStat);
  const networks = netDev !== undefined ? parseNetDev(netDev) : {};
  const out: ContainerStatsResponse = {
    read: rfc3339NanoNow(),
    preread: ZERO_TIME,
    pids_stats: counters.pids,
    blkio_stats: counters.blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: counters.cpu.cpu_usage,
      system_cpu_usage: system.systemUsageNs,
      online_cpus: system.onlineCpus,
      throttling_data: counters.cpu.throttling_data,
    },
    precpu_stats: zeroCpu(),
    memory_stats: counters.memory,
    name: target.name(),
    id: target.id,
  };
  if (Object.keys(networks).length) out.networks = networks;
  return out;
}

/**
 * The samples of GET /containers/{id}/stats:
 * - one-shot: one sample at once (precpu_stats empty);
 * - stream=false: the second of two samples one interval apart, so CPU % can be computed;
 * - stream: a sample per interval until closed or the container is removed.
 * A container that is not running gives zeroed samples (only name and id), as Docker's.
 */
export function openStatsStream(target: StatsTarget, opts: StatsOptions, env: StatsEnv): StatsStream {
  const interval = env.intervalMs ?? 1000;
  let closed = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });
  const next = async (): Promise<ContainerStatsResponse> =>
    (await sampleStats(target, env).catch(() => undefined)) ?? zeroStats(target.name(), target.id);

  async function* samples(): AsyncGenerator<ContainerStatsResponse> {
    if (!opts.stream && (opts.oneShot || !target.pid())) {
      yield await next();
      return;
    }
    let pre: ContainerStatsResponse | undefined;
    let first = true;
    while (!closed && target.exists()) {
      const s = await next();
      if (pre) {
        s.precpu_stats = pre.cpu_stats;
        s.preread = pre.read;
      }
      pre = s;
      if (opts.stream || !first) {
        yield s;
        if (!opts.stream) return;
      }
      first = false;
      await sleep(interval);
    }
  }
  return {
    samples: samples(),
    close() {
      closed = true;
      wake?.();
    },
  };
}
