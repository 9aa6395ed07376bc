/**
 * Config and HostConfig as Docker's inspect prints them: every field of Go's struct, in its
 * order, with Go's zero value (null for nil slices, maps and pointers) where the client sent
 * nothing. Clients built against Docker read these keys without checking that they exist, and
 * minimal clients (dockerode, the Python SDK) send only the fields they set.
 */
import type { ContainerConfig, HostConfig } from '../api/types.js';

/** Fields Go omits when empty (`json:",omitempty"`). */
const HOSTCONFIG_OMITEMPTY = new Set(['Annotations', 'StorageOpt', 'Tmpfs', 'Sysctls', 'Runtime', 'Mounts', 'Init']);

/** HostConfig's fields in Go's order (Resources embedded after Isolation) with their zero values. */
const HOSTCONFIG_ZERO: ReadonlyArray<[string, unknown]> = [
  ['Binds', null],
  ['ContainerIDFile', ''],
  ['LogConfig', { Type: '', Config: null }],
  ['NetworkMode', ''],
  ['PortBindings', null],
  ['RestartPolicy', { Name: '', MaximumRetryCount: 0 }],
  ['AutoRemove', false],
  ['VolumeDriver', ''],
  ['VolumesFrom', null],
  ['ConsoleSize', [0, 0]],
  ['Annotations', null],
  ['CapAdd', null],
  ['CapDrop', null],
  ['CgroupnsMode', ''],
  ['Dns', null],
  ['DnsOptions', null],
  ['DnsSearch', null],
  ['ExtraHosts', null],
  ['GroupAdd', null],
  ['IpcMode', ''],
  ['Cgroup', ''],
  ['Links', null],
  ['OomScoreAdj', 0],
  ['PidMode', ''],
  ['Privileged', false],
  ['PublishAllPorts', false],
  ['ReadonlyRootfs', false],
  ['SecurityOpt', null],
  ['StorageOpt', null],
  ['Tmpfs', null],
  ['UTSMode', ''],
  ['UsernsMode', ''],
  ['ShmSize', 0],
  ['Sysctls', null],
  ['Runtime', ''],
  ['Isolation', ''],
  ['CpuShares', 0],
  ['Memory', 0],
  ['NanoCpus', 0],
  ['CgroupParent', ''],
  ['BlkioWeight', 0],
  ['BlkioWeightDevice', null],
  ['BlkioDeviceReadBps', null],
  ['BlkioDeviceWriteBps', null],
  ['BlkioDeviceReadIOps', null],
  ['BlkioDeviceWriteIOps', null],
  ['CpuPeriod', 0],
  ['CpuQuota', 0],
  ['CpuRealtimePeriod', 0],
  ['CpuRealtimeRuntime', 0],
  ['CpusetCpus', ''],
  ['CpusetMems', ''],
  ['Devices', null],
  ['DeviceCgroupRules', null],
  ['DeviceRequests', null],
  ['MemoryReservation', 0],
  ['MemorySwap', 0],
  ['MemorySwappiness', null],
  ['OomKillDisable', null],
  ['PidsLimit', null],
  ['Ulimits', null],
  ['CpuCount', 0],
  ['CpuPercent', 0],
  ['IOMaximumIOps', 0],
  ['IOMaximumBandwidth', 0],
  ['Mounts', null],
  ['MaskedPaths', null],
  ['ReadonlyPaths', null],
  ['Init', null],
];

const CONFIG_OMITEMPTY = new Set(['ExposedPorts', 'Healthcheck', 'ArgsEscaped', 'NetworkDisabled', 'MacAddress', 'StopSignal', 'StopTimeout', 'Shell']);

/** omitempty pointers: Go drops only nil, so a pointer to 0 or false is printed. */
const OMIT_ONLY_NULL = new Set(['StopTimeout', 'Init']);

const CONFIG_ZERO: ReadonlyArray<[string, unknown]> = [
  ['Hostname', ''],
  ['Domainname', ''],
  ['User', ''],
  ['AttachStdin', false],
  ['AttachStdout', false],
  ['AttachStderr', false],
  ['ExposedPorts', null],
  ['Tty', false],
  ['OpenStdin', false],
  ['StdinOnce', false],
  ['Env', null],
  ['Cmd', null],
  ['Healthcheck', null],
  ['ArgsEscaped', false],
  ['Image', ''],
  ['Volumes', null],
  ['WorkingDir', ''],
  ['Entrypoint', null],
  ['NetworkDisabled', false],
  ['MacAddress', ''],
  ['OnBuild', null],
  ['Labels', null],
  ['StopSignal', ''],
  ['StopTimeout', null],
  ['Shell', null],
];

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

interface Shape {
  order: ReadonlyArray<[string, unknown]>;
  keys: ReadonlySet<string>;
  omitEmpty: ReadonlySet<string>;
}

const shapeOf = (order: ReadonlyArray<[string, unknown]>, omitEmpty: ReadonlySet<string>): Shape => ({ order, keys: new Set(order.map(([k]) => k)), omitEmpty });
const HOSTCONFIG_SHAPE = shapeOf(HOSTCONFIG_ZERO, HOSTCONFIG_OMITEMPTY);
const CONFIG_SHAPE = shapeOf(CONFIG_ZERO, CONFIG_OMITEMPTY);

/**
 * The fields in `order` (with zero values for missing ones, omitempty ones dropped when empty),
 * then any others. Runs for every inspect: no copies, set lookups only.
 */
function shape(value: Record<string, unknown>, { order, keys, omitEmpty }: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, zero] of order) {
    const own = Object.hasOwn(value, key) ? value[key] : undefined;
    const v = own !== undefined ? own : zero;
    if (omitEmpty.has(key) && (OMIT_ONLY_NULL.has(key) ? v === null : isEmpty(v))) continue;
    out[key] = v;
  }
  for (const key of Object.keys(value)) if (!keys.has(key) && value[key] !== undefined) out[key] = value[key];
  return out;
}

export function hostConfigJSON(hc: HostConfig | undefined): HostConfig {
  return shape((hc ?? {}) as Record<string, unknown>, HOSTCONFIG_SHAPE) as HostConfig;
}

export function configJSON(c: ContainerConfig | undefined): ContainerConfig {
  return shape((c ?? {}) as Record<string, unknown>, CONFIG_SHAPE) as ContainerConfig;
}
