/**
 * Turns a create request into the container's effective Config and HostConfig: merges the
 * image's config the way Docker does and validates what Docker validates at create time.
 * Pure: no disk, no processes.
 */
import { cpus } from 'node:os';
import { posix } from 'node:path';
import type { ContainerConfig, HealthConfig, HostConfig, RestartPolicy } from '../../api/types.js';
import { envKey } from '../../lib/env-list.js';
import { invalidParameter } from '../../lib/errors.js';
import { parseSignal } from '../../lib/signals.js';
import { validatePortBindings } from '../../network/ports.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_SHM_SIZE, normalizeCaps } from '../../runtime/spec.js';
import { parseCpuList, type SysInfo } from '../sysinfo.js';

const HEALTH_NUMBERS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const;

/** A health config as Docker stores and shows it: its numbers are omitempty, so a zero is no field. */
function withoutZeroes(h: HealthConfig): HealthConfig {
  const out = { ...h };
  for (const k of HEALTH_NUMBERS) if (!out[k]) delete out[k];
  return out;
}

/**
 * Docker's merge of the user's config over the image's (moby daemon/commit.go `merge`). An empty
 * list or map of the user's takes the image's, null included (inspect then shows null, not {}),
 * and Labels is never null. Shell and OnBuild are no part of it: a container's config has them
 * only when its creator gave them (the classic builder's step containers).
 */
export function mergeImageConfig(user: ContainerConfig, image: ContainerConfig | undefined): ContainerConfig {
  const out: ContainerConfig = { ...user };
  if (out.Healthcheck) out.Healthcheck = withoutZeroes(out.Healthcheck);
  if (!image) return normaliseEntrypoint(out);
  const empty = (m: object | null | undefined) => !m || Object.keys(m).length === 0;
  if (!out.User) out.User = image.User ?? '';
  // Copies: the image's config is shared by every container made from it.
  if (empty(out.ExposedPorts)) out.ExposedPorts = image.ExposedPorts ? { ...image.ExposedPorts } : null;
  else if (image.ExposedPorts) out.ExposedPorts = { ...out.ExposedPorts, ...image.ExposedPorts };
  if (!out.Env || out.Env.length === 0) {
    out.Env = image.Env ? [...image.Env] : null;
  } else if (image.Env) {
    const keys = new Set(out.Env.map(envKey));
    out.Env = [...out.Env, ...image.Env.filter((e) => !keys.has(envKey(e)))];
  }
  out.Labels = { ...(image.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = image.Cmd ?? null;
    if (out.Entrypoint == null) out.Entrypoint = image.Entrypoint ?? null;
  }
  if (!out.Healthcheck && image.Healthcheck) out.Healthcheck = withoutZeroes(image.Healthcheck);
  else if (out.Healthcheck && image.Healthcheck) {
    const h = { ...out.Healthcheck };
    if (!h.Test || h.Test.length === 0) h.Test = image.Healthcheck.Test;
    for (const k of HEALTH_NUMBERS) if (!h[k]) h[k] = image.Healthcheck[k];
    out.Healthcheck = withoutZeroes(h);
  }
  if (!out.WorkingDir) out.WorkingDir = image.WorkingDir ?? '';
  if (empty(out.Volumes)) out.Volumes = image.Volumes ? { ...image.Volumes } : null;
  else if (image.Volumes) out.Volumes = { ...out.Volumes, ...image.Volumes };
  if (!out.StopSignal && image.StopSignal) out.StopSignal = image.StopSignal;
  return normaliseEntrypoint(out);
}

/** `--entrypoint ""` arrives as [""]: it clears the entrypoint without inheriting the image's Cmd. */
function normaliseEntrypoint(c: ContainerConfig): ContainerConfig {
  if (c.Entrypoint && c.Entrypoint.length === 1 && c.Entrypoint[0] === '') c.Entrypoint = null;
  return c;
}

/** Path and Args as Docker reports them: entrypoint + cmd, split at the first element. */
export function commandOf(c: ContainerConfig): { path: string; args: string[] } {
  const argv = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (argv.length === 0) throw invalidParameter('No command specified');
  return { path: argv[0]!, args: argv.slice(1) };
}

const MIN_MEMORY = 6 * 1024 * 1024;

function validateRestartPolicy(p: RestartPolicy | undefined): void {
  const name = p?.Name ?? '';
  const count = p?.MaximumRetryCount ?? 0;
  switch (name) {
    case '':
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (count !== 0) throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
      break;
    case 'on-failure':
      if (count < 0) throw invalidParameter('invalid restart policy: maximum retry count cannot be negative');
      break;
    default:
      throw invalidParameter(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
}

/** Docker's MinimumDuration for healthcheck intervals: 1 ms, in nanoseconds. */
const MIN_HEALTH_DURATION = 1_000_000;

/**
 * moby's validateContainerConfig on the request's own Config (before the image's is merged in):
 * an absolute working directory (cleaned), a stop signal that exists, health intervals of at
 * least 1 ms and retries that are not negative.
 */
export function validateContainerConfig(config: ContainerConfig): void {
  if (config.WorkingDir) {
    if (!config.WorkingDir.startsWith('/')) {
      throw invalidParameter(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
    }
    config.WorkingDir = posix.normalize(config.WorkingDir).replace(/(.)\/+$/, '$1');
  }
  if (config.StopSignal) parseSignal(config.StopSignal);
  const h = config.Healthcheck;
  if (!h) return;
  // A null (docker-py sends `"StartPeriod": null` when not given) decodes to Go's zero: unset.
  const tooShort = (v: number | null | undefined) => typeof v === 'number' && v !== 0 && v < MIN_HEALTH_DURATION;
  if (tooShort(h.Interval)) throw invalidParameter('Interval in Healthcheck cannot be less than 1ms');
  if (tooShort(h.Timeout)) throw invalidParameter('Timeout in Healthcheck cannot be less than 1ms');
  if ((h.Retries ?? 0) < 0) throw invalidParameter('Retries in Healthcheck cannot be negative');
  if (tooShort(h.StartPeriod)) throw invalidParameter('StartPeriod in Healthcheck cannot be less than 1ms');
  if (tooShort(h.StartInterval)) throw invalidParameter('StartInterval in Healthcheck cannot be less than 1ms');
}

/** Every limit supported: what validation assumes when the host was not asked. */
export const ALL_SUPPORTED: SysInfo = {
  memoryLimit: true, swapLimit: true, memoryReservation: true, oomKillDisable: true, memorySwappiness: true,
  kernelMemory: true, cpuShares: true, cpuCfs: true, cpuset: true, cpus: '', mems: '', pidsLimit: true,
  blkioWeight: true, blkioWeightDevice: true, blkioReadBpsDevice: true, blkioWriteBpsDevice: true,
  blkioReadIOpsDevice: true, blkioWriteIOpsDevice: true,
};

/** A cpuset list must parse and name only what the host has (an empty host list is unknown: anything goes). */
function checkCpuset(kind: 'cpus' | 'mems', requested: string | undefined, available: string): void {
  if (!requested) return;
  let want: Set<number>;
  try {
    want = parseCpuList(requested);
  } catch (err) {
    throw invalidParameter(`Invalid value ${requested} for cpuset ${kind}: ${(err as Error).message}`);
  }
  if (!available) return;
  const have = parseCpuList(available);
  for (const n of want) {
    if (!have.has(n)) {
      throw invalidParameter(
        kind === 'cpus'
          ? `Requested CPUs are not available - requested ${requested}, available: ${available}`
          : `Requested memory nodes are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

/**
 * Docker's create (and update) checks on HostConfig (moby's verifyContainerSettings and
 * verifyPlatformContainerResources), in Docker's order and with its texts. Limits the host
 * cannot apply are discarded from `h` with Docker's warnings, which are returned.
 */
export function validateHostConfig(h: HostConfig, ncpu = cpus().length, sys: SysInfo = ALL_SUPPORTED, update = false): string[] {
  const warnings: string[] = [];
  if (!update && h.AutoRemove && h.RestartPolicy?.Name && h.RestartPolicy.Name !== 'no') {
    throw invalidParameter("can't create 'AutoRemove' container with restart policy");
  }
  if (!update) validatePortBindings(h.PortBindings);
  validateRestartPolicy(h.RestartPolicy);
  if (h.MemorySwappiness === -1) h.MemorySwappiness = null;
  if (h.Memory && h.Memory !== 0 && h.Memory < MIN_MEMORY) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (h.Memory && h.Memory > 0 && !sys.memoryLimit) {
    warnings.push('Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    h.Memory = 0;
    h.MemorySwap = -1;
  }
  if (h.Memory && h.Memory > 0 && h.MemorySwap !== -1 && !sys.swapLimit) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    h.MemorySwap = -1;
  }
  if (h.Memory && h.Memory > 0 && h.MemorySwap && h.MemorySwap > 0 && h.MemorySwap < h.Memory) {
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (!h.Memory && h.MemorySwap && h.MemorySwap > 0 && !update) {
    throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (h.MemorySwappiness !== undefined && h.MemorySwappiness !== null && !sys.memorySwappiness) {
    warnings.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
    h.MemorySwappiness = null;
  }
  if (h.MemorySwappiness !== undefined && h.MemorySwappiness !== null && (h.MemorySwappiness < 0 || h.MemorySwappiness > 100)) {
    throw invalidParameter(`Invalid value: ${h.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  if (h.MemoryReservation && h.MemoryReservation > 0 && !sys.memoryReservation) {
    warnings.push('Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.');
    h.MemoryReservation = 0;
  }
  if (h.MemoryReservation && h.MemoryReservation > 0 && h.MemoryReservation < MIN_MEMORY) {
    throw invalidParameter('Minimum memory reservation allowed is 6MB');
  }
  if (h.Memory && h.Memory > 0 && h.MemoryReservation && h.MemoryReservation > 0 && h.Memory < h.MemoryReservation) {
    throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  const hk = h as HostConfig & { KernelMemory?: number };
  if (hk.KernelMemory && hk.KernelMemory > 0) {
    // The kernel deprecated kmem limits (5.4) and cgroup v2 never had them; wharfd never applies them.
    warnings.push('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    hk.KernelMemory = 0;
  }
  if (h.OomKillDisable !== undefined && h.OomKillDisable !== null && !sys.oomKillDisable) {
    if (h.OomKillDisable) warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    h.OomKillDisable = undefined;
  }
  if (h.OomKillDisable && !h.Memory) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  if (h.PidsLimit !== undefined && h.PidsLimit !== null && !sys.pidsLimit) {
    if (h.PidsLimit > 0) warnings.push('Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.');
    h.PidsLimit = null;
  }
  if (h.NanoCpus && h.NanoCpus > 0 && h.CpuPeriod && h.CpuPeriod > 0) {
    throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (h.NanoCpus && h.NanoCpus > 0 && h.CpuQuota && h.CpuQuota > 0) {
    throw invalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  }
  if (h.NanoCpus && h.NanoCpus > 0 && !sys.cpuCfs) {
    throw invalidParameter('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  }
  if (h.NanoCpus && (h.NanoCpus < 0 || h.NanoCpus > ncpu * 1e9)) {
    throw invalidParameter(`range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  }
  if (h.CpuShares !== undefined && h.CpuShares < 0) throw invalidParameter(`invalid CPU shares (${h.CpuShares}): value must be a positive integer`);
  if (h.CpuShares && h.CpuShares > 0 && !sys.cpuShares) {
    warnings.push('Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
    h.CpuShares = 0;
  }
  if ((h.CpuPeriod || h.CpuQuota) && !sys.cpuCfs) {
    warnings.push('Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.');
    h.CpuPeriod = 0;
    h.CpuQuota = 0;
  }
  if (h.CpuPeriod && (h.CpuPeriod < 1000 || h.CpuPeriod > 1000000)) {
    throw invalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (h.CpuQuota && h.CpuQuota > 0 && h.CpuQuota < 1000) throw invalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (h.CpuPercent && h.CpuPercent > 0) {
    warnings.push('linux does not support CPU percent. Percent discarded.');
    h.CpuPercent = 0;
  }
  if ((h.CpusetCpus || h.CpusetMems) && !sys.cpuset) {
    warnings.push('Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.');
    h.CpusetCpus = '';
    h.CpusetMems = '';
  }
  checkCpuset('cpus', h.CpusetCpus, sys.cpus);
  checkCpuset('mems', h.CpusetMems, sys.mems);
  if (h.BlkioWeight && h.BlkioWeight > 0 && !sys.blkioWeight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    h.BlkioWeight = 0;
  }
  if (h.BlkioWeight && h.BlkioWeight > 0 && (h.BlkioWeight < 10 || h.BlkioWeight > 1000)) {
    throw invalidParameter('Range of blkio weight is from 10 to 1000');
  }
  if (h.IOMaximumBandwidth || h.IOMaximumIOps) {
    throw invalidParameter('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  }
  const blkioDevices: Array<[keyof HostConfig, boolean, string]> = [
    ['BlkioWeightDevice', sys.blkioWeightDevice, 'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.'],
    ['BlkioDeviceReadBps', sys.blkioReadBpsDevice, 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.'],
    ['BlkioDeviceWriteBps', sys.blkioWriteBpsDevice, 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.'],
    ['BlkioDeviceReadIOps', sys.blkioReadIOpsDevice, 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.'],
    ['BlkioDeviceWriteIOps', sys.blkioWriteIOpsDevice, 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.'],
  ];
  for (const [key, supported, warning] of blkioDevices) {
    const list = h[key] as unknown[] | null | undefined;
    if (list && list.length > 0 && !supported) {
      warnings.push(warning);
      (h as Record<string, unknown>)[key] = [];
    }
  }
  if (!update) {
    // moby's verifyPlatformContainerSettings, in its order.
    if (!validIpcMode(h.IpcMode ?? '')) throw invalidParameter(`invalid IPC mode: ${h.IpcMode}`);
    if (!validPidMode(h.PidMode ?? '')) throw invalidParameter(`invalid PID mode: ${h.PidMode}`);
    if (h.ShmSize !== undefined && h.ShmSize < 0) throw invalidParameter('SHM size can not be less than 0');
    if (h.UTSMode && h.UTSMode !== 'host') throw invalidParameter(`invalid UTS mode: ${h.UTSMode}`);
    if (h.OomScoreAdj !== undefined && (h.OomScoreAdj < -1000 || h.OomScoreAdj > 1000)) {
      throw invalidParameter('Invalid value ' + h.OomScoreAdj + ', range for oom score adj is [-1000, 1000]');
    }
    for (const [field, list] of [['CapAdd', h.CapAdd], ['CapDrop', h.CapDrop]] as const) {
      try {
        normalizeCaps(list ?? []);
      } catch (err) {
        throw invalidParameter(`invalid ${field}: ${(err as Error).message}`);
      }
    }
    if (h.Isolation && h.Isolation !== 'default') throw invalidParameter(`invalid isolation '${h.Isolation}' on linux`);
    const storageOpts = Object.keys(h.StorageOpt ?? {});
    // overlay2 takes only `size`, and only over xfs with project quotas, which wharfd does not set up.
    if (storageOpts.includes('size')) throw invalidParameter("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
    if (storageOpts.length) throw invalidParameter(`Unknown option ${storageOpts[0]}`);
  }
  return warnings;
}

/** moby's IpcMode.Valid: a `container:` mode may name nobody there (start fails instead). */
function validIpcMode(mode: string): boolean {
  return ['', 'none', 'private', 'host', 'shareable'].includes(mode) || mode.startsWith('container:');
}

/** moby's PidMode.Valid: `container:` must name a container. */
function validPidMode(mode: string): boolean {
  return mode === '' || mode === 'host' || (mode.startsWith('container:') && mode.length > 'container:'.length);
}

export interface HostConfigDefaults {
  cgroupVersion: '1' | '2';
  defaultRuntime: string;
  runtimes: readonly string[];
}

/**
 * What Docker's create records in HostConfig beyond what the client sent (moby's
 * adaptContainerSettings and createContainerOSSpecificSettings), so inspect shows the values
 * the container really runs with.
 */
export function adaptHostConfig(h: HostConfig, d: HostConfigDefaults): void {
  if (h.Runtime && h.Runtime !== d.defaultRuntime) {
    if (!d.runtimes.includes(h.Runtime)) throw invalidParameter(`Unknown runtime specified ${h.Runtime}`);
    throw invalidParameter(`runtime ${JSON.stringify(h.Runtime)} is configured, but wharfd runs every container with its default runtime ${JSON.stringify(d.defaultRuntime)}`);
  }
  h.Runtime = d.defaultRuntime;
  // Swap defaults to twice the memory limit.
  if (h.Memory && h.Memory > 0 && !h.MemorySwap) h.MemorySwap = h.Memory * 2;
  if (!h.ShmSize) h.ShmSize = DEFAULT_SHM_SIZE;
  if (!h.IpcMode) h.IpcMode = 'private';
  // cgroup v2 unshares the cgroup namespace (privileged containers too); v1 keeps the host's.
  if (!h.CgroupnsMode) h.CgroupnsMode = d.cgroupVersion === '2' ? 'private' : 'host';
  h.OomKillDisable ??= false;
  if (!h.Privileged) {
    h.MaskedPaths ??= [...DEFAULT_MASKED_PATHS];
    h.ReadonlyPaths ??= [...DEFAULT_READONLY_PATHS];
  }
}

/** The network mode as Docker records it: "" and "default" become "bridge". */
export function effectiveNetworkMode(h: HostConfig): string {
  const m = h.NetworkMode ?? '';
  return m === '' || m === 'default' ? 'bridge' : m;
}
