/**
 * Reads a container's cgroup counters into Docker's stats shapes, for cgroup v1 (one directory
 * per controller) and v2 (one unified directory). The directories come from the container's
 * init process (/proc/<pid>/cgroup) and the host's cgroup mounts, so any cgroup parent or
 * driver is found.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  type CgroupMount,
  parseBlkioV1,
  parseCgroupMounts,
  parseIoStatV2,
  parseKeyValues,
  parsePercpu,
  parseProcCgroup,
  parseUint,
} from './parse.js';
import type { BlkioStats, CPUStats, MemoryStats, PidsStats } from '../../api/types.js';

const read = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);

export interface CgroupCounters {
  cpu: Omit<CPUStats, 'system_cpu_usage' | 'online_cpus'>;
  memory: MemoryStats;
  pids: PidsStats;
  blkio: BlkioStats;
}

export type CgroupDirs = { version: 1; dirs: Record<string, string> } | { version: 2; dir: string };

function under(mount: CgroupMount, path: string): string | undefined {
  const rel = posix.relative(mount.root, path);
  if (rel.startsWith('..')) return undefined;
  return posix.join(mount.mountPoint, rel);
}

/** The cgroup directories of a process; undefined when it is gone. */
export async function cgroupDirsOf(pid: number, version: '1' | '2', procRoot = '/proc'): Promise<CgroupDirs | undefined> {
  const [cg, mi] = await Promise.all([read(`${procRoot}/${pid}/cgroup`), read(`${procRoot}/self/mountinfo`)]);
  if (cg === undefined) return undefined;
  const proc = parseProcCgroup(cg);
  const mounts = parseCgroupMounts(mi ?? '');
  if (version === '2') {
    const m = mounts.find((x) => x.version === 2);
    const path = proc.unified ?? '/';
    const dir = m ? under(m, path) : posix.join('/sys/fs/cgroup', path);
    return dir ? { version: 2, dir } : undefined;
  }
  const dirs: Record<string, string> = {};
  for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio']) {
    const path = proc.v1[controller];
    if (path === undefined) continue;
    const m = mounts.find((x) => x.version === 1 && x.controllers.includes(controller));
    const dir = m ? under(m, path) : posix.join('/sys/fs/cgroup', controller, path);
    if (dir) dirs[controller] = dir;
  }
  return { version: 1, dirs };
}

/** Docker's blkio_stats with no data: every list null. */
export const emptyBlkio = (): BlkioStats => ({
  io_service_bytes_recursive: null,
  io_serviced_recursive: null,
  io_queue_recursive: null,
  io_service_time_recursive: null,
  io_wait_time_recursive: null,
  io_merged_recursive: null,
  io_time_recursive: null,
  sectors_recursive: null,
});

const orNull = <T>(a: T[]): T[] | null => (a.length ? a : null);

/** Clock ticks of cpuacct.stat (USER_HZ), 100 on every Linux Docker supports. */
const USER_HZ = 100;

/** A limit above the machine's memory means "no limit": Docker shows the machine's memory then. */
function memoryLimit(raw: number | undefined, machineMemory: number): number | undefined {
  if (raw === undefined || raw > machineMemory) return machineMemory;
  return raw;
}

export async function readCgroupV1(dirs: Record<string, string>, machineMemory: number): Promise<CgroupCounters> {
  const at = (controller: string, file: string) => (dirs[controller] ? read(posix.join(dirs[controller]!, file)) : Promise.resolve(undefined));
  const [usage, percpu, acctStat, cpuStat, memUsage, memMax, memFail, memLimit, memStat, pidsCur, pidsMax] = await Promise.all([
    at('cpuacct', 'cpuacct.usage'),
    at('cpuacct', 'cpuacct.usage_percpu'),
    at('cpuacct', 'cpuacct.stat'),
    at('cpu', 'cpu.stat'),
    at('memory', 'memory.usage_in_bytes'),
    at('memory', 'memory.max_usage_in_bytes'),
    at('memory', 'memory.failcnt'),
    at('memory', 'memory.limit_in_bytes'),
    at('memory', 'memory.stat'),
    at('pids', 'pids.current'),
    at('pids', 'pids.max'),
  ]);
  const acct = parseKeyValues(acctStat);
  const thr = parseKeyValues(cpuStat);
  const cpu: CgroupCounters['cpu'] = {
    cpu_usage: {
      total_usage: parseUint(usage) ?? 0,
      usage_in_kernelmode: ((acct['system'] ?? 0) * 1e9) / USER_HZ,
      usage_in_usermode: ((acct['user'] ?? 0) * 1e9) / USER_HZ,
    },
    throttling_data: { periods: thr['nr_periods'] ?? 0, throttled_periods: thr['nr_throttled'] ?? 0, throttled_time: thr['throttled_time'] ?? 0 },
  };
  const per = parsePercpu(percpu);
  if (per.length) cpu.cpu_usage = { total_usage: cpu.cpu_usage.total_usage, percpu_usage: per, usage_in_kernelmode: cpu.cpu_usage.usage_in_kernelmode, usage_in_usermode: cpu.cpu_usage.usage_in_usermode };
  const memory: MemoryStats = {};
  if (memUsage !== undefined) {
    memory.usage = parseUint(memUsage) ?? 0;
    const max = parseUint(memMax);
    if (max) memory.max_usage = max;
    const all = parseKeyValues(memStat);
    const stats: Record<string, number> = {};
    for (const k of V1_MEMORY_KEYS) stats[k] = all[k] ?? 0;
    memory.stats = stats;
    const fail = parseUint(memFail);
    if (fail) memory.failcnt = fail;
    memory.limit = memoryLimit(parseUint(memLimit), machineMemory);
  }
  const pids: PidsStats = {};
  const cur = parseUint(pidsCur);
  if (cur) pids.current = cur;
  const lim = parseUint(pidsMax);
  if (lim) pids.limit = lim;
  return { cpu, memory, pids, blkio: await readBlkioV1(dirs['blkio']) };
}

async function readBlkioV1(dir: string | undefined): Promise<BlkioStats> {
  if (!dir) return emptyBlkio();
  const f = (name: string) => read(posix.join(dir, `blkio.${name}`)).then(parseBlkioV1);
  // CFQ files first (as containerd); kernels with blk-mq only fill the throttle ones.
  const [sectors, bytes, serviced, queued, svcTime, waitTime, merged, time] = await Promise.all([
    f('sectors_recursive'),
    f('io_service_bytes_recursive'),
    f('io_serviced_recursive'),
    f('io_queued_recursive'),
    f('io_service_time_recursive'),
    f('io_wait_time_recursive'),
    f('io_merged_recursive'),
    f('time_recursive'),
  ]);
  // moby copies each of cgroup v1's lists into a slice of its own: empty ones are [], never null
  // (a client iterating them, docker-py's users, meets a list).
  const lists = { sectors, bytes, serviced, queued, svcTime, waitTime, merged, time };
  if (!Object.values(lists).some((a) => a.length)) {
    const [tBytes, tServiced] = await Promise.all([f('throttle.io_service_bytes_recursive'), f('throttle.io_serviced_recursive')]);
    [lists.bytes, lists.serviced] = tBytes.length || tServiced.length ? [tBytes, tServiced] : await Promise.all([f('throttle.io_service_bytes'), f('throttle.io_serviced')]);
  }
  return {
    io_service_bytes_recursive: lists.bytes,
    io_serviced_recursive: lists.serviced,
    io_queue_recursive: lists.queued,
    io_service_time_recursive: lists.svcTime,
    io_wait_time_recursive: lists.waitTime,
    io_merged_recursive: lists.merged,
    io_time_recursive: lists.time,
    sectors_recursive: lists.sectors,
  };
}

/**
 * The memory.stat keys Docker reports for cgroup v1 (containerd's v1 metrics), each always there,
 * in the order Go writes a map's keys (sorted).
 */
const V1_MEMORY_KEYS = ['', 'total_']
  .flatMap((prefix) =>
    [
      'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault',
      'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
      ...(prefix ? [] : ['hierarchical_memory_limit', 'hierarchical_memsw_limit']),
    ].map((k) => prefix + k),
  )
  .sort();

/** The memory.stat keys Docker reports for cgroup v2. */
const V2_MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback',
  'anon_thp', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
  'slab_reclaimable', 'slab_unreclaimable', 'pgfault', 'pgmajfault', 'workingset_refault',
  'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate',
  'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
];

export async function readCgroupV2(dir: string, machineMemory: number): Promise<CgroupCounters> {
  const at = (file: string) => read(posix.join(dir, file));
  const [cpuStat, memCur, memMax, memStat, pidsCur, pidsMax, ioStat] = await Promise.all([
    at('cpu.stat'),
    at('memory.current'),
    at('memory.max'),
    at('memory.stat'),
    at('pids.current'),
    at('pids.max'),
    at('io.stat'),
  ]);
  const c = parseKeyValues(cpuStat);
  const cpu: CgroupCounters['cpu'] = {
    cpu_usage: {
      total_usage: (c['usage_usec'] ?? 0) * 1000,
      usage_in_kernelmode: (c['system_usec'] ?? 0) * 1000,
      usage_in_usermode: (c['user_usec'] ?? 0) * 1000,
    },
    throttling_data: { periods: c['nr_periods'] ?? 0, throttled_periods: c['nr_throttled'] ?? 0, throttled_time: (c['throttled_usec'] ?? 0) * 1000 },
  };
  const memory: MemoryStats = {};
  if (memCur !== undefined) {
    memory.usage = parseUint(memCur) ?? 0;
    const all = parseKeyValues(memStat);
    const stats: Record<string, number> = {};
    for (const k of V2_MEMORY_KEYS) stats[k] = all[k] ?? 0;
    memory.stats = stats;
    memory.limit = memoryLimit(parseUint(memMax), machineMemory);
  }
  const pids: PidsStats = {};
  const cur = parseUint(pidsCur);
  if (cur) pids.current = cur;
  const lim = parseUint(pidsMax);
  if (lim) pids.limit = lim;
  const blkio = emptyBlkio();
  blkio.io_service_bytes_recursive = orNull(parseIoStatV2(ioStat));
  return { cpu, memory, pids, blkio };
}
