/**
 * GET /containers/json: Docker's filters, ordering and limit over container records, and the
 * summary item built from a record. Semantics follow Docker's daemon/list.go: newest first,
 * `before`/`since` walk that order, a status filter or a limit implies `all`, and
 * name/id/status filters are regular expressions (an exact value matches too).
 */
import { filterMatches as matches, labelMatches } from '../lib/filters.js';
import type { ContainerListOptions } from '../api/backend.js';
import type { EndpointSettings, Filters, MountPoint, PortSummary, ContainerSummary } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import type { ContainerRecord } from './container.js';
import { resolveIdPrefix } from './name-index.js';
import { rfc3339ToNs } from '../lib/wall-clock.js';
import { healthStatus, parseRFC3339Ms, stateStatus, statusText } from './state.js';

const ACCEPTED_FILTERS = new Set([
  'ancestor', 'before', 'exited', 'id', 'isolation', 'label', 'name', 'status', 'health',
  'since', 'volume', 'network', 'is-task', 'publish', 'expose',
]);

const STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const HEALTHS = ['none', 'starting', 'healthy', 'unhealthy'];

export interface ListResolvers {
  /** A container by full ID, name or unique prefix (for before/since); throws NotFound. */
  resolveContainer(ref: string): ContainerRecord;
  /** An image reference (name, ID or prefix) to its ID (sha256:…); throws when unknown. */
  resolveImage?(ref: string): Promise<string>;
  /** IDs of the images built on top of `imageId` (any depth), so `ancestor` also matches them. */
  imageDescendants?(imageId: string): Promise<string[]>;
}

/** Docker's MatchKVList: every `key` / `key=value` must be present. */
export function labelsMatch(values: string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  return !values || values.every((v) => labelMatches(labels, v));
}

/** `80`, `80/udp`, `8000-8010/tcp` to the set of `port/proto` strings. */
function parsePortFilter(key: string, value: string, into: Set<string>): void {
  if (value.includes(':')) throw invalidParameter(`filter for '${key}' should not contain ':': ${value}`);
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-z]+))?$/i.exec(value);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) {
    throw invalidParameter(`error while looking up for ${key} ${value}: invalid port range: ${value}`);
  }
  const proto = (m[3] ?? 'tcp').toLowerCase();
  for (let p = start; p <= end; p++) into.add(`${p}/${proto}`);
}

/** Newest first, as `docker ps` lists them (Docker orders by the creation time's nanoseconds). */
export function sortNewestFirst(records: ContainerRecord[]): ContainerRecord[] {
  const created = new Map(records.map((r) => [r, rfc3339ToNs(r.Created) ?? 0n]));
  return [...records].sort((a, b) => {
    const d = created.get(b)! - created.get(a)!;
    return d > 0n ? 1 : d < 0n ? -1 : 0;
  });
}

/**
 * Applies `opts` (all, limit, filters) to `records` and returns the chosen ones newest first.
 * Errors: InvalidParameter `invalid filter '<key>'`, `invalid filter 'status=x': …`,
 * `invalid filter 'exited=x': …`, `invalid filter 'health=x': …`; NotFound from
 * resolveContainer for before/since.
 */
export async function filterContainers(
  records: ContainerRecord[],
  opts: ContainerListOptions,
  resolvers: ListResolvers,
): Promise<ContainerRecord[]> {
  const f: Filters = opts.filters ?? {};
  for (const key of Object.keys(f)) {
    if (!ACCEPTED_FILTERS.has(key)) throw invalidParameter(`invalid filter '${key}'`);
  }
  const get = (key: string): string[] => f[key] ?? [];

  const exitAllowed: number[] = [];
  for (const v of get('exited')) {
    if (!/^[+-]?\d+$/.test(v)) throw invalidParameter(`invalid filter 'exited=${v}': strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
    exitAllowed.push(Number(v));
  }
  let all = opts.all;
  for (const v of get('status')) {
    if (!STATES.includes(v)) {
      throw invalidParameter(`invalid filter 'status=${v}': invalid value for state (${v}): must be one of ${STATES.join(', ')}`);
    }
    all = true;
  }
  let isTask: boolean | undefined;
  if (f['is-task']) {
    const vals = new Set(get('is-task').map((v) => v.toLowerCase()));
    const truthy = [...vals].every((v) => v === 'true' || v === '1');
    const falsy = [...vals].every((v) => v === 'false' || v === '0');
    if (vals.size === 0 || (!truthy && !falsy)) throw invalidParameter(`invalid filter 'is-task=[${get('is-task').join(' ')}]'`);
    isTask = truthy;
  }
  for (const v of get('health')) {
    if (!HEALTHS.includes(v)) {
      throw invalidParameter(`invalid filter 'health=${v}': invalid value for health (${v}): must be one of ${HEALTHS.join(', ')}`);
    }
  }
  let beforeId: string | undefined;
  for (const v of get('before')) beforeId = resolvers.resolveContainer(v).ID;
  let sinceId: string | undefined;
  for (const v of get('since')) sinceId = resolvers.resolveContainer(v).ID;

  let ancestors: Set<string> | undefined;
  if (f.ancestor) {
    ancestors = new Set();
    for (const ref of get('ancestor')) {
      let id: string;
      try {
        if (!resolvers.resolveImage) continue;
        id = await resolvers.resolveImage(ref);
      } catch {
        continue; // Docker logs and ignores an ancestor it cannot find
      }
      ancestors.add(id);
      for (const child of (await resolvers.imageDescendants?.(id)) ?? []) ancestors.add(child);
    }
  }
  const publish = new Set<string>();
  for (const v of get('publish')) parsePortFilter('publish', v, publish);
  const expose = new Set<string>();
  for (const v of get('expose')) parsePortFilter('expose', v, expose);

  // Docker narrows by id first: each id value must be a unique ID prefix.
  let candidates = sortNewestFirst(records);
  if (get('id').length > 0) {
    const wanted = new Set<string>();
    for (const v of get('id')) {
      try {
        wanted.add(resolveIdPrefix(candidates.map((r) => r.ID), v));
      } catch {
        // not found or ambiguous: ignored, as Docker does
      }
    }
    candidates = candidates.filter((r) => wanted.has(r.ID));
  }

  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0;
  const out: ContainerRecord[] = [];
  let skippingUntilBefore = beforeId !== undefined;
  for (const rec of candidates) {
    if (skippingUntilBefore) {
      if (rec.ID === beforeId) skippingUntilBefore = false;
      continue;
    }
    if (sinceId !== undefined && rec.ID === sinceId) break;
    const s = rec.State;
    const running = s.Running || s.Paused || s.Restarting;
    if (!running && !all && limit <= 0) continue;
    if (!matches(f.name, rec.Name) && !matches(f.name, rec.Name.replace(/^\//, ''))) continue;
    if (!matches(f.id, rec.ID)) continue;
    if (isTask === true) continue; // no swarm tasks here
    if (!labelsMatch(f.label, rec.Config.Labels)) continue;
    if (!matches(f.isolation, rec.HostConfig.Isolation ?? '')) continue;
    if (limit > 0 && out.length === limit) break;
    if (exitAllowed.length > 0) {
      const stoppedAfterStart = !running && !/^0001-01-01/.test(s.StartedAt);
      if (!stoppedAfterStart || !exitAllowed.includes(s.ExitCode)) continue;
    }
    if (!matches(f.status, stateStatus(s))) continue;
    if (f.health && f.health.length > 0 && !f.health.includes(healthStatus(s))) continue;
    if (f.volume && !volumeMatches(rec, f.volume)) continue;
    if (ancestors && !ancestors.has(rec.Image)) continue;
    if (f.network && !networkMatches(rec, f.network)) continue;
    if (publish.size > 0 || expose.size > 0) {
      const ports = portSummaries(rec);
      if (!ports.some((p) => publish.has(`${p.PublicPort ?? 0}/${p.Type}`) || expose.has(`${p.PrivatePort}/${p.Type}`))) continue;
    }
    out.push(rec);
  }
  return out;
}

function volumeMatches(rec: ContainerRecord, values: string[]): boolean {
  const mounts = Object.values(rec.MountPoints ?? {});
  return values.some((v) => mounts.some((m) => m.Destination === v || (m.Name ? m.Name === v : m.Source === v)));
}

function networkMatches(rec: ContainerRecord, values: string[]): boolean {
  const nets = rec.NetworkSettings?.Networks ?? {};
  return values.some((v) => Object.hasOwn(nets, v) || Object.values(nets).some((n) => !!n?.NetworkID && n.NetworkID.startsWith(v)));
}

// ---- summary --------------------------------------------------------------------------------

/** Docker's Command column: Path and Args, args containing a space wrapped in single quotes. */
export function commandString(path: string, args: string[]): string {
  if (!args || args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

/** Mount points in Docker's MountPoint field order, sorted by destination. */
export function mountPointList(rec: ContainerRecord): MountPoint[] {
  return Object.values(rec.MountPoints ?? {})
    .sort((a, b) => (a.Destination < b.Destination ? -1 : a.Destination > b.Destination ? 1 : 0))
    .map((m) => {
      const out: Record<string, unknown> = {};
      if (m.Type) out.Type = m.Type;
      if (m.Name) out.Name = m.Name;
      out.Source = m.Source ?? '';
      out.Destination = m.Destination;
      if (m.Driver) out.Driver = m.Driver;
      out.Mode = m.Mode ?? '';
      out.RW = !!m.RW;
      out.Propagation = m.Propagation ?? '';
      return out as unknown as MountPoint;
    });
}

/** Published/exposed ports of NetworkSettings.Ports as Docker's summary Ports. */
export function portSummaries(rec: ContainerRecord): PortSummary[] {
  const out: PortSummary[] = [];
  for (const [key, bindings] of Object.entries(rec.NetworkSettings?.Ports ?? {})) {
    const [num, proto = 'tcp'] = key.split('/');
    const privatePort = Number(num);
    if (!bindings || bindings.length === 0) {
      out.push({ PrivatePort: privatePort, Type: proto });
      continue;
    }
    for (const b of bindings) {
      // An empty HostPort (a routed binding) is port 0, as nat.ParsePort reads it.
      const publicPort = b.HostPort ? Number.parseInt(b.HostPort.split('-')[0]!, 10) : 0;
      if (Number.isNaN(publicPort)) continue;
      out.push({ IP: b.HostIp ?? '', PrivatePort: privatePort, PublicPort: publicPort, Type: proto });
    }
  }
  return out.sort((a, b) => a.PrivatePort - b.PrivatePort || a.Type.localeCompare(b.Type) || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || (a.IP ?? '').localeCompare(b.IP ?? ''));
}

/** EndpointSettings with every field Docker sends, in Docker's order. */
export function endpointSettings(ep: EndpointSettings | null | undefined): EndpointSettings & { GwPriority: number } {
  const e = ep ?? {};
  return {
    IPAMConfig: e.IPAMConfig ?? null,
    Links: e.Links ?? null,
    Aliases: e.Aliases ?? null,
    MacAddress: e.MacAddress ?? '',
    DriverOpts: e.DriverOpts ?? null,
    GwPriority: e.GwPriority ?? 0,
    NetworkID: e.NetworkID ?? '',
    EndpointID: e.EndpointID ?? '',
    Gateway: e.Gateway ?? '',
    IPAddress: e.IPAddress ?? '',
    IPPrefixLen: e.IPPrefixLen ?? 0,
    IPv6Gateway: e.IPv6Gateway ?? '',
    GlobalIPv6Address: e.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: e.GlobalIPv6PrefixLen ?? 0,
    DNSNames: e.DNSNames ?? null,
  };
}

export interface SummaryOptions {
  sizeRw?: number;
  sizeRootFs?: number;
  /** Clock for the Status text (ms); now by default. */
  now?: number;
  /** Names the container has through legacy links (`/parent/alias`). */
  linkNames?: string[];
  /** Override of the Image column (Docker shows the image ID once the reference moved on). */
  image?: string;
}

/** One item of GET /containers/json, fields in Docker's order. */
export function toSummary(rec: ContainerRecord, opts: SummaryOptions = {}): ContainerSummary {
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(rec.NetworkSettings?.Networks ?? {})) {
    if (!ep) continue;
    const full = endpointSettings(ep);
    // The summary carries the addressing part only, as Docker's view does.
    networks[name] = { ...full, Links: null, Aliases: null, DriverOpts: null, DNSNames: null };
  }
  const hostConfig: { NetworkMode: string; Annotations?: Record<string, string> } = {
    NetworkMode: rec.HostConfig?.NetworkMode ?? '',
  };
  const annotations = rec.HostConfig?.Annotations;
  if (annotations && Object.keys(annotations).length > 0) hostConfig.Annotations = { ...annotations };
  const created = parseRFC3339Ms(rec.Created);
  const summary: ContainerSummary = {
    Id: rec.ID,
    // Docker's names index lists every name of the container, its links' included, sorted.
    Names: [...(rec.Name ? [rec.Name] : []), ...(opts.linkNames ?? [])].sort(),
    Image: opts.image ?? rec.Config?.Image ?? rec.Image,
    ImageID: rec.Image,
    Command: commandString(rec.Path, rec.Args),
    Created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
    Ports: portSummaries(rec),
    Labels: { ...(rec.Config?.Labels ?? {}) },
    State: stateStatus(rec.State),
    Status: statusText(rec.State, opts.now),
    HostConfig: hostConfig,
    NetworkSettings: { Networks: networks },
    Mounts: mountPointList(rec),
  };
  if (opts.sizeRw || opts.sizeRootFs) {
    // Docker's omitempty: a zero size is left out; the fields go after Ports.
    const ordered: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(summary)) {
      ordered[k] = v;
      if (k === 'Ports') {
        if (opts.sizeRw) ordered.SizeRw = opts.sizeRw;
        if (opts.sizeRootFs) ordered.SizeRootFs = opts.sizeRootFs;
      }
    }
    return ordered as unknown as ContainerSummary;
  }
  return summary;
}
