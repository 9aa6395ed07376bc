/**
 * GET /containers/{id}/json: the record in Docker's InspectResponse shape, keys in Docker's
 * order (clients diff and template over it, people read it).
 */
import type { ContainerInspect, ContainerStateJSON, EndpointSettings, NetworkSettings } from '../api/types.js';
import type { ContainerRecord } from './container.js';
import { endpointSettings, mountPointList } from './list.js';
import { isZeroTime, stateStatus } from './state.js';
import { configJSON, hostConfigJSON } from './config-shape.js';

export interface InspectExtras {
  /** The RW layer's GraphDriver.Data (LowerDir, MergedDir, UpperDir, WorkDir); null when unknown. */
  graphDriverData: Record<string, string> | null;
  /** Only with ?size=1. */
  sizeRw?: number;
  sizeRootFs?: number;
  /** IDs of the container's exec instances; Docker sends null when there are none. */
  execIds?: string[];
  /** The AppArmor profile applied, when AppArmor is in use. */
  appArmorProfile?: string;
}

export function stateJSON(rec: ContainerRecord): ContainerStateJSON {
  const s = rec.State;
  const out: ContainerStateJSON = {
    Status: stateStatus(s),
    Running: s.Running,
    Paused: s.Paused,
    Restarting: s.Restarting,
    OOMKilled: s.OOMKilled,
    Dead: s.Dead,
    Pid: s.Pid,
    ExitCode: s.ExitCode,
    Error: s.Error,
    StartedAt: s.StartedAt,
    FinishedAt: s.FinishedAt,
  };
  if (s.Health) {
    out.Health = { Status: s.Health.Status, FailingStreak: s.Health.FailingStreak, Log: [...(s.Health.Log ?? [])] };
  }
  return out;
}

/** Docker's NetworkSettings: the base fields, then the default ("bridge") network's addresses, then Networks. */
export function networkSettingsJSON(rec: ContainerRecord): NetworkSettings {
  const ns = rec.NetworkSettings ?? ({} as Partial<NetworkSettings>);
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(ns.Networks ?? {})) {
    if (ep) networks[name] = endpointSettings(ep);
  }
  const bridge = ns.Networks?.bridge;
  return {
    Bridge: ns.Bridge ?? '',
    SandboxID: ns.SandboxID ?? '',
    SandboxKey: ns.SandboxKey ?? '',
    Ports: { ...(ns.Ports ?? {}) },
    HairpinMode: ns.HairpinMode ?? false,
    LinkLocalIPv6Address: ns.LinkLocalIPv6Address ?? '',
    LinkLocalIPv6PrefixLen: ns.LinkLocalIPv6PrefixLen ?? 0,
    SecondaryIPAddresses: ns.SecondaryIPAddresses ?? null,
    SecondaryIPv6Addresses: ns.SecondaryIPv6Addresses ?? null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: bridge?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: bridge?.GlobalIPv6PrefixLen ?? 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: bridge?.IPv6Gateway ?? '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}

export function toInspect(rec: ContainerRecord, extras: InspectExtras): ContainerInspect {
  // moby fills these in at a container's first start (its network files, its logger), also one
  // that failed; a container never started shows them empty.
  const started = !isZeroTime(rec.State.StartedAt) || !!rec.State.Error;
  const path = (p: string | undefined) => (started ? (p ?? '') : '');
  const out: ContainerInspect = {
    Id: rec.ID,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args ?? [],
    State: stateJSON(rec),
    Image: rec.Image,
    ResolvConfPath: path(rec.ResolvConfPath),
    HostnamePath: path(rec.HostnamePath),
    HostsPath: path(rec.HostsPath),
    // moby shows only json-file's file (k8s-file is wharfd's own); `local` keeps its file private.
    LogPath: ['json-file', 'k8s-file'].includes(rec.HostConfig.LogConfig?.Type || 'json-file') ? path(rec.LogPath) : '',
    Name: rec.Name,
    RestartCount: rec.RestartCount ?? 0,
    Driver: rec.Driver ?? '',
    Platform: rec.Platform ?? 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: extras.appArmorProfile ?? '',
    ExecIDs: extras.execIds && extras.execIds.length > 0 ? [...extras.execIds] : null,
    HostConfig: hostConfigJSON(rec.HostConfig),
    GraphDriver: { Data: extras.graphDriverData, Name: rec.Driver ?? '' },
    Mounts: mountPointList(rec),
    Config: configJSON(rec.Config),
    NetworkSettings: networkSettingsJSON(rec),
  };
  if (extras.sizeRw === undefined && extras.sizeRootFs === undefined) return out;
  // SizeRw / SizeRootFs sit between GraphDriver and Mounts in Docker's output.
  const ordered: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(out)) {
    ordered[k] = v;
    if (k === 'GraphDriver') {
      if (extras.sizeRw !== undefined) ordered.SizeRw = extras.sizeRw;
      if (extras.sizeRootFs !== undefined) ordered.SizeRootFs = extras.sizeRootFs;
    }
  }
  return ordered as unknown as ContainerInspect;
}
