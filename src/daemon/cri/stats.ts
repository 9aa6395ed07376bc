/**
 * ContainerStats / PodSandboxStats from the engine's stats collector (the cgroup files and the
 * netns counters `docker stats` reads), in the CRI's units: cumulative CPU nanoseconds plus the
 * rate since the previous call (usage_nano_cores), memory working set = usage - inactive file.
 */
import type { ContainerStatsResponse } from '../../api/stats-types.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess } from '../../container/state.js';
import type { ContainerStats } from '../../cri/gen/runtime/v1/ContainerStats.js';
import type { PodSandboxStats } from '../../cri/gen/runtime/v1/PodSandboxStats.js';
import { isEngineError } from '../../lib/errors.js';
import type { CriEngine } from './engine.js';
import type { CriContainer } from './containers.js';
import type { Sandbox } from './pods.js';

const u64 = (n: number | bigint) => ({ value: String(n < 0 ? 0 : typeof n === 'bigint' ? n : Math.floor(n)) });

interface Sample {
  timestamp: bigint;
  cpuNs: number;
  memory: ContainerStatsResponse['memory_stats'];
  pids: number;
  networks: ContainerStatsResponse['networks'];
}

export class CriStats {
  /** The previous CPU reading of each container, for usage_nano_cores. */
  private readonly lastCpu = new Map<string, { timestamp: bigint; cpuNs: number }>();

  constructor(private readonly engine: CriEngine) {}

  private async sample(rec: ContainerRecord): Promise<Sample | undefined> {
    if (!hasProcess(rec.State)) {
      this.lastCpu.delete(rec.ID);
      return undefined;
    }
    let stream;
    try {
      stream = await this.engine.containers.stats(rec.ID, { stream: false, oneShot: true });
    } catch (err) {
      if (isEngineError(err)) return undefined;
      throw err;
    }
    try {
      for await (const s of stream.samples) {
        return {
          timestamp: BigInt(Date.now()) * 1_000_000n,
          cpuNs: s.cpu_stats.cpu_usage.total_usage,
          memory: s.memory_stats,
          pids: s.pids_stats.current ?? 0,
          networks: s.networks,
        };
      }
      return undefined;
    } finally {
      stream.close();
    }
  }

  private cpuRate(id: string, s: Sample): number {
    const prev = this.lastCpu.get(id);
    this.lastCpu.set(id, { timestamp: s.timestamp, cpuNs: s.cpuNs });
    if (!prev || s.timestamp <= prev.timestamp) return 0;
    return ((s.cpuNs - prev.cpuNs) * 1e9) / Number(s.timestamp - prev.timestamp);
  }

  private usage(id: string, s: Sample | undefined): Pick<ContainerStats, 'cpu' | 'memory'> {
    const ts = String(s?.timestamp ?? BigInt(Date.now()) * 1_000_000n);
    if (!s) {
      return {
        cpu: { timestamp: ts, usage_core_nano_seconds: u64(0), usage_nano_cores: u64(0) },
        memory: { timestamp: ts, working_set_bytes: u64(0), usage_bytes: u64(0), rss_bytes: u64(0), page_faults: u64(0), major_page_faults: u64(0) },
      };
    }
    const m = s.memory;
    const st = m.stats ?? {};
    const usage = m.usage ?? 0;
    const inactive = st.inactive_file ?? st.total_inactive_file ?? 0;
    const limit = m.limit ?? 0;
    const workingSet = Math.max(0, usage - inactive);
    return {
      cpu: { timestamp: ts, usage_core_nano_seconds: u64(s.cpuNs), usage_nano_cores: u64(this.cpuRate(id, s)) },
      memory: {
        timestamp: ts,
        working_set_bytes: u64(workingSet),
        available_bytes: u64(limit > workingSet ? limit - workingSet : 0),
        usage_bytes: u64(usage),
        rss_bytes: u64(st.anon ?? st.rss ?? st.total_rss ?? 0),
        page_faults: u64(st.pgfault ?? st.total_pgfault ?? 0),
        major_page_faults: u64(st.pgmajfault ?? st.total_pgmajfault ?? 0),
      },
    };
  }

  async container(c: CriContainer): Promise<ContainerStats> {
    const s = await this.sample(c.rec);
    return {
      attributes: { id: c.rec.ID, metadata: c.meta.metadata, labels: c.meta.labels, annotations: c.meta.annotations },
      ...this.usage(c.rec.ID, s),
      writable_layer: null,
    };
  }

  async sandbox(sb: Sandbox, containers: CriContainer[]): Promise<PodSandboxStats> {
    const s = await this.sample(sb.rec);
    const parts = await Promise.all(containers.map(async (c) => this.sample(c.rec)));
    // The pod's usage is its containers' and the infra container's together.
    const pod: Sample | undefined = s && {
      ...s,
      cpuNs: [s, ...parts].reduce((n, p) => n + (p?.cpuNs ?? 0), 0),
      memory: {
        usage: [s, ...parts].reduce((n, p) => n + (p?.memory.usage ?? 0), 0),
        stats: { inactive_file: [s, ...parts].reduce((n, p) => n + (p?.memory.stats?.inactive_file ?? p?.memory.stats?.total_inactive_file ?? 0), 0) },
      },
    };
    const { cpu, memory } = this.usage(sb.rec.ID, pod);
    const ts = cpu?.timestamp ?? String(BigInt(Date.now()) * 1_000_000n);
    const interfaces = Object.entries(s?.networks ?? {}).map(([name, n]) => ({
      name,
      rx_bytes: u64(n.rx_bytes),
      rx_errors: u64(n.rx_errors),
      tx_bytes: u64(n.tx_bytes),
      tx_errors: u64(n.tx_errors),
    }));
    const containerStats = await Promise.all(containers.map((c) => this.container(c)));
    return {
      attributes: { id: sb.rec.ID, metadata: sb.meta.metadata, labels: sb.meta.labels, annotations: sb.meta.annotations },
      linux: {
        cpu,
        memory,
        network: { timestamp: ts, default_interface: interfaces.find((i) => i.name === 'eth0') ?? interfaces[0] ?? null, interfaces },
        process: { timestamp: ts, process_count: u64((s?.pids ?? 0) + containers.length) },
        containers: containerStats,
      },
    };
  }
}
