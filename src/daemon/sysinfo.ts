/**
 * What the host's cgroups can limit (Docker's pkg/sysinfo), read once at daemon start from the
 * controllers' files: create and update discard, with Docker's warnings, the limits the kernel
 * cannot apply instead of letting runc fail on a missing file.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCgroupMounts } from './stats/parse.js';

export interface SysInfo {
  memoryLimit: boolean;
  swapLimit: boolean;
  memoryReservation: boolean;
  oomKillDisable: boolean;
  memorySwappiness: boolean;
  kernelMemory: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuset: boolean;
  /** The CPUs and memory nodes cpuset may use, as the kernel lists them (`0-1`). */
  cpus: string;
  mems: string;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBpsDevice: boolean;
  blkioWriteBpsDevice: boolean;
  blkioReadIOpsDevice: boolean;
  blkioWriteIOpsDevice: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim();
}

export async function detectSysInfo(cgroupVersion: '1' | '2', mountinfoPath = '/proc/self/mountinfo'): Promise<SysInfo> {
  const mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8').catch(() => ''));
  if (cgroupVersion === '2') {
    const root = mounts.find((m) => m.version === 2)?.mountPoint ?? '/sys/fs/cgroup';
    const controllers = new Set((await readTrimmed(join(root, 'cgroup.controllers'))).split(/\s+/));
    const io = controllers.has('io');
    return {
      memoryLimit: controllers.has('memory'),
      swapLimit: controllers.has('memory'),
      memoryReservation: controllers.has('memory'),
      oomKillDisable: false,
      memorySwappiness: false,
      kernelMemory: false,
      cpuShares: controllers.has('cpu'),
      cpuCfs: controllers.has('cpu'),
      cpuset: controllers.has('cpuset'),
      cpus: await readTrimmed(join(root, 'cpuset.cpus.effective')),
      mems: await readTrimmed(join(root, 'cpuset.mems.effective')),
      pidsLimit: controllers.has('pids'),
      blkioWeight: io && ((await exists(join(root, 'io.bfq.weight'))) || (await exists(join(root, 'io.weight')))),
      blkioWeightDevice: io && ((await exists(join(root, 'io.bfq.weight'))) || (await exists(join(root, 'io.weight')))),
      blkioReadBpsDevice: io,
      blkioWriteBpsDevice: io,
      blkioReadIOpsDevice: io,
      blkioWriteIOpsDevice: io,
    };
  }
  const dirOf = (controller: string) =>
    mounts.find((m) => m.version === 1 && m.controllers.includes(controller))?.mountPoint ?? join('/sys/fs/cgroup', controller);
  // A controller counts when its hierarchy is mounted (the root cgroup lacks files such as pids.max).
  const mounted = (controller: string) => exists(join(dirOf(controller), 'cgroup.procs'));
  const has = (controller: string, file: string) => exists(join(dirOf(controller), file));
  const cpuset = dirOf('cpuset');
  return {
    memoryLimit: await mounted('memory'),
    swapLimit: await has('memory', 'memory.memsw.limit_in_bytes'),
    memoryReservation: await has('memory', 'memory.soft_limit_in_bytes'),
    oomKillDisable: await has('memory', 'memory.oom_control'),
    memorySwappiness: await has('memory', 'memory.swappiness'),
    kernelMemory: await has('memory', 'memory.kmem.limit_in_bytes'),
    cpuShares: await has('cpu', 'cpu.shares'),
    cpuCfs: await has('cpu', 'cpu.cfs_quota_us'),
    cpuset: await mounted('cpuset'),
    cpus: await readTrimmed(join(cpuset, 'cpuset.cpus')),
    mems: await readTrimmed(join(cpuset, 'cpuset.mems')),
    pidsLimit: await mounted('pids'),
    blkioWeight: await has('blkio', 'blkio.weight'),
    blkioWeightDevice: await has('blkio', 'blkio.weight_device'),
    blkioReadBpsDevice: await has('blkio', 'blkio.throttle.read_bps_device'),
    blkioWriteBpsDevice: await has('blkio', 'blkio.throttle.write_bps_device'),
    blkioReadIOpsDevice: await has('blkio', 'blkio.throttle.read_iops_device'),
    blkioWriteIOpsDevice: await has('blkio', 'blkio.throttle.write_iops_device'),
  };
}

/** Parses a cpuset list (`0-3,7`) into its numbers; throws on a malformed list. */
export function parseCpuList(list: string): Set<number> {
  const out = new Set<number>();
  if (list === '') return out;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${list}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`invalid format: ${list}`);
    if (hi - lo > 4096) throw new Error(`invalid format: ${list}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}
