import type { BlkioStatEntry, NetworkStats } from '../../api/types.js';
import { parseMountInfo } from '../../lib/mountinfo.js';
/**
 * Parsers of the kernel files container stats come from: cgroup v1 and v2 controller files,
 * /proc/stat and /proc/<pid>/net/dev. Pure functions over file text, so they are tested on
 * sample files of either cgroup version whatever the host runs.
 */

/** A single number file (`memory.usage_in_bytes`, `pids.current`); `max` and garbage are undefined. */
export function parseUint(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t || !/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/** Flat keyed files (`memory.stat`, `cpu.stat`, `cpuacct.stat`): `key value` per line. */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** `cpuacct.usage_percpu`: space-separated nanoseconds per CPU. */
export function parsePercpu(text: string | undefined): number[] {
  return (text ?? '')
    .trim()
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** cgroup v1 blkio files: `8:0 Read 1234` lines; the device-less `Total` line is skipped (as containerd). */
export function parseBlkioV1(text: string | undefined): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    if (f.length === 3 && /^\d+$/.test(f[2]!)) out.push({ major: Number(dev[1]), minor: Number(dev[2]), op: f[1]!, value: Number(f[2]) });
    // blkio.sectors_recursive and time_recursive have no op: `8:0 1234`.
    else if (f.length === 2 && /^\d+$/.test(f[1]!)) out.push({ major: Number(dev[1]), minor: Number(dev[2]), op: '', value: Number(f[1]) });
  }
  return out;
}

/** cgroup v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...` → Docker's read/write byte entries. */
export function parseIoStatV2(text: string | undefined): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const kv: Record<string, number> = {};
    for (const p of f.slice(1)) {
      const [k, v] = p.split('=');
      if (k && v !== undefined && /^\d+$/.test(v)) kv[k] = Number(v);
    }
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    out.push({ major, minor, op: 'read', value: kv['rbytes'] ?? 0 }, { major, minor, op: 'write', value: kv['wbytes'] ?? 0 });
  }
  return out;
}

export interface SystemCpu {
  /** Sum of user..softirq of the `cpu` line, in nanoseconds (Docker's system_cpu_usage). */
  systemUsageNs: number;
  /** Number of `cpuN` lines. */
  onlineCpus: number;
}

/** /proc/stat → Docker's system_cpu_usage: the first seven fields of `cpu`, ticks to ns. */
export function parseProcStat(text: string, clockTicks = 100): SystemCpu {
  let total = 0;
  let cpus = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      for (const v of f.slice(1, 8)) total += Number(v) || 0;
    } else if (f[0] && /^cpu\d+$/.test(f[0])) cpus++;
  }
  return { systemUsageNs: (total * 1e9) / clockTicks, onlineCpus: cpus };
}

/** /proc/<pid>/net/dev → per-interface counters, loopback left out (as Docker). */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || name === 'lo' || f.length < 16 || f.some((n) => Number.isNaN(n))) continue;
    out[name] = {
      rx_bytes: f[0]!,
      rx_packets: f[1]!,
      rx_errors: f[2]!,
      rx_dropped: f[3]!,
      tx_bytes: f[8]!,
      tx_packets: f[9]!,
      tx_errors: f[10]!,
      tx_dropped: f[11]!,
    };
  }
  return out;
}

export interface ProcCgroup {
  /** cgroup v1: controller name → path (co-mounted controllers appear under each name). */
  v1: Record<string, string>;
  /** cgroup v2 (unified) path, when there is a `0::` line. */
  unified?: string;
}

/** /proc/<pid>/cgroup: `4:memory:/wharf/<id>`, `2:cpu,cpuacct:/…`, `0::/…`. */
export function parseProcCgroup(text: string): ProcCgroup {
  const out: ProcCgroup = { v1: {} };
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.unified = m[3]!;
    else for (const c of m[2]!.split(',')) if (c) out.v1[c.replace(/^name=/, '')] = m[3]!;
  }
  return out;
}

export interface CgroupMount {
  /** Mount point, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  /** The cgroup the mount shows as its root (`/` on the host). */
  root: string;
  /** v1 controllers of the mount; empty for cgroup2. */
  controllers: string[];
  version: 1 | 2;
}

/** The cgroup mounts of /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  return parseMountInfo(mountinfo)
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => {
      const opts = m.superOptions;
      const controllers =
        m.fsType === 'cgroup'
          ? opts.filter((o) => !['rw', 'ro'].includes(o) && !o.includes('=') && o !== 'none').concat(opts.filter((o) => o.startsWith('name=')).map((o) => o.slice(5)))
          : [];
      return { mountPoint: m.mountPoint, root: m.root, controllers, version: m.fsType === 'cgroup2' ? 2 : 1 };
    });
}
