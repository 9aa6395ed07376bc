/**
 * The shapes of container bodies (create, update, commit) for api/json-body.ts, and the create
 * body's own rule (a body without any Config field is refused, as Docker does).
 */
import { invalidParameter } from '../lib/errors.js';
import { CONFIG_FIELDS } from '../image/config-shape.js';
import { stringMap, strings, type Shape, type StructShape } from '../lib/go-json.js';
import { decodeJSON } from './json-body.js';
import type { ContainerCreateBody } from './types.js';

export const HOST_CONFIG: StructShape = {
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
          BindOptions: {
            goType: 'mount.BindOptions',
            fields: { Propagation: 'string', NonRecursive: 'bool', CreateMountpoint: 'bool', ReadOnlyNonRecursive: 'bool', ReadOnlyForceRecursive: 'bool' },
          },
          VolumeOptions: {
            goType: 'mount.VolumeOptions',
            fields: {
              NoCopy: 'bool',
              Labels: stringMap,
              DriverConfig: { goType: 'mount.Driver', fields: { Name: 'string', Options: stringMap } },
              Subpath: 'string',
            },
          },
          TmpfsOptions: { goType: 'mount.TmpfsOptions', fields: { SizeBytes: 'int64', Mode: 'uint64' } },
          ImageOptions: { goType: 'mount.ImageOptions', fields: { Subpath: 'string' } },
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
    DeviceRequests: {
      goType: '[]container.DeviceRequest',
      array: {
        goType: 'container.DeviceRequest',
        fields: {
          Driver: 'string',
          Count: 'int',
          DeviceIDs: strings,
          Capabilities: { goType: '[][]string', array: strings },
          Options: stringMap,
        },
      },
    },
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

/** network.EndpointSettings (create's NetworkingConfig, network connect). */
export const ENDPOINT_SETTINGS: StructShape = {
  goType: 'network.EndpointSettings',
  fields: {
    IPAMConfig: { goType: 'network.EndpointIPAMConfig', fields: { IPv4Address: 'string', IPv6Address: 'string', LinkLocalIPs: strings } },
    Links: strings,
    Aliases: strings,
    MacAddress: 'string',
    DriverOpts: stringMap,
    GwPriority: 'int',
    DNSNames: strings,
    NetworkID: 'string',
    EndpointID: 'string',
    Gateway: 'string',
    IPAddress: 'string',
    IPPrefixLen: 'int',
    IPv6Gateway: 'string',
    GlobalIPv6Address: 'string',
    GlobalIPv6PrefixLen: 'int',
  },
};

const NETWORKING_CONFIG: Shape = {
  goType: 'network.NetworkingConfig',
  fields: { EndpointsConfig: { goType: 'map[string]*network.EndpointSettings', map: ENDPOINT_SETTINGS } },
};

const BODY: StructShape = {
  goType: 'container.CreateRequest',
  fields: { ...CONFIG_FIELDS, HostConfig: HOST_CONFIG, NetworkingConfig: NETWORKING_CONFIG },
};

/** Validates and normalizes a create body already parsed from JSON (undefined = empty body). */
export function decodeCreateBody(parsed: unknown): ContainerCreateBody {
  const body = decodeJSON<Record<string, unknown>>(parsed, BODY);
  // Docker's Config is an embedded pointer: it stays nil unless some Config field is present.
  if (body === undefined || !Object.keys(CONFIG_FIELDS).some((k) => k in body)) {
    throw invalidParameter('config cannot be empty in order to create a container');
  }
  return body as ContainerCreateBody;
}

/** POST /commit: a container.Config. */
export const COMMIT_CONFIG: StructShape = { goType: 'container.Config', fields: CONFIG_FIELDS };

/** POST /containers/{id}/update: container.UpdateConfig (Resources and RestartPolicy). */
export const UPDATE_CONFIG: StructShape = { goType: 'container.UpdateConfig', fields: HOST_CONFIG.fields };
