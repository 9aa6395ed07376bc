/**
 * Turns a create request into the container's effective Config and HostConfig: merges the
 * image's config the way Docker does and validates what Docker validates at create time.
 * Pure: no disk, no processes.
 */
import { cpus } from 'node:os';
import type { ContainerConfig, HostConfig, RestartPolicy } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_SHM_SIZE } from '../runtime/spec.js';

const envKey = (kv: string) => kv.split('=', 1)[0];

/** Docker's merge of the user's config over the image's (moby daemon/commit.go `merge`). */
export function mergeImageConfig(user: ContainerConfig, image: ContainerConfig | undefined): ContainerConfig {
  const out: ContainerConfig = { ...user };
  if (!image) return normaliseEntrypoint(out);
  if (!out.User) out.User = image.User ?? '';
  if (image.ExposedPorts) out.ExposedPorts = { ...image.ExposedPorts, ...(out.ExposedPorts ?? {}) };
  if (!out.Env || out.Env.length === 0) {
    out.Env = image.Env ? [...image.Env] : out.Env;
  } else if (image.Env) {
    const keys = new Set(out.Env.map(envKey));
    out.Env = [...out.Env, ...image.Env.filter((e) => !keys.has(envKey(e)))];
  }
  if (image.Labels) out.Labels = { ...image.Labels, ...(out.Labels ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = image.Cmd ?? null;
    if (out.Entrypoint == null) out.Entrypoint = image.Entrypoint ?? null;
  }
  if (!out.Healthcheck && image.Healthcheck) out.Healthcheck = image.Healthcheck;
  else if (out.Healthcheck && image.Healthcheck) {
    const h = { ...out.Healthcheck };
    if (!h.Test || h.Test.length === 0) h.Test = image.Healthcheck.Test;
    h.Interval ||= image.Healthcheck.Interval;
    h.Timeout ||= image.Healthcheck.Timeout;
    h.StartPeriod ||= image.Healthcheck.StartPeriod;
    h.Retries ||= image.Healthcheck.Retries;
    out.Healthcheck = h;
  }
  if (!out.WorkingDir) out.WorkingDir = image.WorkingDir ?? '';
  if (image.Volumes) out.Volumes = { ...image.Volumes, ...(out.Volumes ?? {}) };
  if (!out.StopSignal && image.StopSignal) out.StopSignal = image.StopSignal;
  if ((!out.OnBuild || out.OnBuild.length === 0) && image.OnBuild) out.OnBuild = image.OnBuild;
  if ((!out.Shell || out.Shell.length === 0) && image.Shell) out.Shell = image.Shell;
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
  return { path: argv[0], args: argv.slice(1) };
}

const MIN_MEMORY = 6 * 1024 * 1024;

function validateRestartPolicy(p: RestartPolicy | undefined, autoRemove: boolean): void {
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
  if (autoRemove && name !== '' && name !== 'no') {
    throw invalidParameter(`conflicting options: cannot use restart policy '${name}' with auto-remove (--rm)`);
  }
}

/** Docker's create-time checks on HostConfig; `ncpu` is the host's CPU count. */
export function validateHostConfig(h: HostConfig, ncpu = cpus().length): void {
  validateRestartPolicy(h.RestartPolicy, !!h.AutoRemove);
  if (h.Memory && h.Memory > 0 && h.Memory < MIN_MEMORY) {
    throw invalidParameter('Minimum memory limit allowed is 6MB');
  }
  if (h.MemorySwap && h.MemorySwap > 0) {
    if (!h.Memory) throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
    if (h.MemorySwap < h.Memory) throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (h.MemoryReservation && h.Memory && h.Memory > 0 && h.MemoryReservation > h.Memory) {
    throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (h.NanoCpus) {
    if (h.CpuQuota || h.CpuPeriod) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if (h.NanoCpus < 0 || h.NanoCpus > ncpu * 1e9) {
      throw invalidParameter(`Range of CPUs is from 0.01 to ${ncpu.toFixed(2)}, as there are only ${ncpu} CPUs available`);
    }
  }
  if (h.CpuShares !== undefined && h.CpuShares < 0) throw invalidParameter('invalid CPU shares: must be a positive integer');
  if (h.ShmSize !== undefined && h.ShmSize < 0) throw invalidParameter('SHM size can not be less than 0');
  if (h.OomScoreAdj !== undefined && (h.OomScoreAdj < -1000 || h.OomScoreAdj > 1000)) {
    throw invalidParameter('Invalid value ' + h.OomScoreAdj + ', range for oom score adj is [-1000, 1000]');
  }
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
