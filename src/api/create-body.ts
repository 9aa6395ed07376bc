/**
 * Decoding of the POST /containers/create body: JSON parse, type checks on the fields the engine
 * reads (with Go's encoding/json wording, since that is what Docker answers), and Go's strslice
 * leniency (a plain string where a list of strings is expected).
 */
import { invalidParameter } from '../lib/errors.js';
import type { ContainerCreateBody } from './types.js';

type Shape =
  | 'string'
  | 'bool'
  | 'int64'
  | 'int'
  | 'uint16'
  | 'uint64'
  | 'strslice'
  | 'struct'
  | { array: Shape; goType: string }
  | { map: Shape; goType: string }
  | { fields: Record<string, Shape>; goType: string };

const strings: Shape = { array: 'string', goType: '[]string' };
const stringMap: Shape = { map: 'string', goType: 'map[string]string' };
const emptySet: Shape = { map: 'struct', goType: 'map[string]struct {}' };

const HEALTH: Shape = {
  goType: 'container.HealthConfig',
  fields: { Test: strings, Interval: 'int64', Timeout: 'int64', StartPeriod: 'int64', StartInterval: 'int64', Retries: 'int' },
};

const CONFIG_FIELDS: Record<string, Shape> = {
  Hostname: 'string',
  Domainname: 'string',
  User: 'string',
  AttachStdin: 'bool',
  AttachStdout: 'bool',
  AttachStderr: 'bool',
  ExposedPorts: emptySet,
  Tty: 'bool',
  OpenStdin: 'bool',
  StdinOnce: 'bool',
  Env: strings,
  Cmd: 'strslice',
  Healthcheck: HEALTH,
  ArgsEscaped: 'bool',
  Image: 'string',
  Volumes: emptySet,
  WorkingDir: 'string',
  Entrypoint: 'strslice',
  NetworkDisabled: 'bool',
  MacAddress: 'string',
  OnBuild: strings,
  Labels: stringMap,
  StopSignal: 'string',
  StopTimeout: 'int',
  Shell: 'strslice',
};

const HOST_CONFIG: Shape = {
  goType: 'container.HostConfig',
  fields: {
    Binds: strings,
    ContainerIDFile: 'string',
    LogConfig: { goType: 'container.LogConfig', fields: { Type: 'string', Config: stringMap } },
    NetworkMode: 'string',
    PortBindings: {
      goType: 'nat.PortMap',
      map: { goType: '[]nat.PortBinding', array: { goType: 'nat.PortBinding', fields: { HostIp: 'string', HostPort: 'string' } } },
    },
    RestartPolicy: { goType: 'container.RestartPolicy', fields: { Name: 'string', MaximumRetryCount: 'int' } },
    AutoRemove: 'bool',
    VolumeDriver: 'string',
    VolumesFrom: strings,
    Mounts: {
      goType: '[]mount.Mount',
      array: {
        goType: 'mount.Mount',
        fields: {
          Type: 'string',
          Source: 'string',
          Target: 'string',
          ReadOnly: 'bool',
          Consistency: 'string',
          BindOptions: { goType: 'mount.BindOptions', fields: { Propagation: 'string', NonRecursive: 'bool' } },
          VolumeOptions: {
            goType: 'mount.VolumeOptions',
            fields: {
              NoCopy: 'bool',
              Labels: stringMap,
              DriverConfig: { goType: 'mount.Driver', fields: { Name: 'string', Options: stringMap } },
            },
          },
          TmpfsOptions: { goType: 'mount.TmpfsOptions', fields: { SizeBytes: 'int64', Mode: 'uint64' } },
        },
      },
    },
    ConsoleSize: { array: 'uint64', goType: '[2]uint' },
    Annotations: stringMap,
    CapAdd: 'strslice',
    CapDrop: 'strslice',
    CgroupnsMode: 'string',
    Dns: strings,
    DnsOptions: strings,
    DnsSearch: strings,
    ExtraHosts: strings,
    GroupAdd: strings,
    IpcMode: 'string',
    Cgroup: 'string',
    Links: strings,
    OomScoreAdj: 'int',
    PidMode: 'string',
    Privileged: 'bool',
    PublishAllPorts: 'bool',
    ReadonlyRootfs: 'bool',
    SecurityOpt: strings,
    StorageOpt: stringMap,
    Tmpfs: stringMap,
    UTSMode: 'string',
    UsernsMode: 'string',
    ShmSize: 'int64',
    Sysctls: stringMap,
    Runtime: 'string',
    Isolation: 'string',
    CpuShares: 'int64',
    Memory: 'int64',
    NanoCpus: 'int64',
    CgroupParent: 'string',
    BlkioWeight: 'uint16',
    CpuPeriod: 'int64',
    CpuQuota: 'int64',
    CpuRealtimePeriod: 'int64',
    CpuRealtimeRuntime: 'int64',
    CpusetCpus: 'string',
    CpusetMems: 'string',
    Devices: {
      goType: '[]container.DeviceMapping',
      array: { goType: 'container.DeviceMapping', fields: { PathOnHost: 'string', PathInContainer: 'string', CgroupPermissions: 'string' } },
    },
    DeviceCgroupRules: strings,
    KernelMemory: 'int64',
    MemoryReservation: 'int64',
    MemorySwap: 'int64',
    MemorySwappiness: 'int64',
    OomKillDisable: 'bool',
    PidsLimit: 'int64',
    Ulimits: {
      goType: '[]*container.Ulimit',
      array: { goType: 'container.Ulimit', fields: { Name: 'string', Soft: 'int64', Hard: 'int64' } },
    },
    Init: 'bool',
    MaskedPaths: strings,
    ReadonlyPaths: strings,
  },
};

const NETWORKING_CONFIG: Shape = {
  goType: 'network.NetworkingConfig',
  fields: {
    EndpointsConfig: {
      goType: 'map[string]*network.EndpointSettings',
      map: {
        goType: 'network.EndpointSettings',
        fields: {
          IPAMConfig: { goType: 'network.EndpointIPAMConfig', fields: { IPv4Address: 'string', IPv6Address: 'string', LinkLocalIPs: strings } },
          Links: strings,
          Aliases: strings,
          MacAddress: 'string',
          DriverOpts: stringMap,
          DNSNames: strings,
        },
      },
    },
  },
};

const BODY: { fields: Record<string, Shape>; goType: string } = {
  goType: 'container.CreateRequest',
  fields: { ...CONFIG_FIELDS, HostConfig: HOST_CONFIG, NetworkingConfig: NETWORKING_CONFIG },
};

const INT_RANGES: Record<string, [number, number]> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint16: [0, 65535],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function typeError(value: unknown, path: string, goType: string): never {
  throw invalidParameter(`invalid JSON: json: cannot unmarshal ${jsonKind(value)} into Go struct field CreateRequest.${path} of type ${goType}`);
}

/** Checks `value` against `shape`; returns the value normalized (strslice strings become lists). */
function check(value: unknown, shape: Shape, path: string): unknown {
  if (value === null) return null;
  switch (shape) {
    case 'string':
      if (typeof value !== 'string') typeError(value, path, 'string');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') typeError(value, path, 'bool');
      return value;
    case 'struct':
      if (typeof value !== 'object' || Array.isArray(value)) typeError(value, path, 'struct {}');
      return value;
    case 'strslice':
      if (typeof value === 'string') return [value];
      if (!Array.isArray(value)) typeError(value, path, 'strslice.StrSlice');
      for (const item of value) if (typeof item !== 'string') typeError(item, path, 'string');
      return value;
    case 'int64':
    case 'int':
    case 'uint16':
    case 'uint64': {
      const [lo, hi] = INT_RANGES[shape]!;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) typeError(value, path, shape);
      return value;
    }
  }
  if ('array' in shape) {
    if (!Array.isArray(value)) typeError(value, path, shape.goType);
    return value.map((item) => check(item, shape.array, path));
  }
  if (typeof value !== 'object' || Array.isArray(value)) typeError(value, path, shape.goType);
  const obj = value as Record<string, unknown>;
  if ('map' in shape) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = check(v, shape.map, path);
    return out;
  }
  const out: Record<string, unknown> = { ...obj };
  for (const [k, sub] of Object.entries(shape.fields)) {
    if (k in obj) out[k] = check(obj[k], sub, `${path}.${k}`.replace(/^\./, ''));
  }
  return out;
}

/** Validates and normalizes a create body already parsed from JSON (undefined = empty body). */
export function decodeCreateBody(parsed: unknown): ContainerCreateBody {
  if (parsed === undefined || parsed === null) throw invalidParameter('config cannot be empty in order to create a container');
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidParameter(`invalid JSON: json: cannot unmarshal ${jsonKind(parsed)} into Go value of type ${BODY.goType}`);
  }
  const body = check(parsed, BODY, '') as Record<string, unknown>;
  // Docker's Config is an embedded pointer: it stays nil unless some Config field is present.
  if (!Object.keys(CONFIG_FIELDS).some((k) => k in body)) {
    throw invalidParameter('config cannot be empty in order to create a container');
  }
  return body as ContainerCreateBody;
}

