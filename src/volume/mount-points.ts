/**
 * A container's mount points, decided at create as Docker's registerMountPoints does:
 * `--volumes-from` first, then `-v` binds and volumes, then `--mount`, then the anonymous volumes
 * of Config.Volumes (the image's VOLUME and `-v /path`) where nothing is mounted yet.
 * Volumes are created (or found) here and referenced by the container.
 */
import { existsSync } from 'node:fs';
import type { ContainerConfig, HostConfig, MountPoint, MountSpec } from '../api/types.js';
import { EngineError, invalidParameter, isEngineError } from '../lib/errors.js';
import { MountConfigError, cleanPath, parseBind, parseMountSpec, parseVolumesFrom, readWrite, type ParsedMount } from './mount-parser.js';
import type { VolumeStore } from './store.js';

/** What config.v2.json keeps per mount point: Docker's MountPoint plus what start needs. */
export interface StoredMountPoint extends MountPoint {
  Spec?: MountSpec;
  /** Copy the image's content into the volume at the next start (cleared once done). */
  CopyData?: boolean;
  /** `--mount type=bind`: a missing host path is an error, not made as for `-v`. */
  SkipMountpointCreation?: boolean;
  /** `--mount type=image`: the name of the read-write layer made on the image (moby's MountPoint.ID). */
  ID?: string;
}

export interface RegisterInput {
  containerId: string;
  config: Pick<ContainerConfig, 'Volumes'>;
  hostConfig: Pick<HostConfig, 'Binds' | 'Mounts' | 'VolumesFrom' | 'Tmpfs' | 'VolumeDriver'>;
  /** Mount points of another container (`--volumes-from`); throws `No such container: x`. */
  mountPointsOf(ref: string): Record<string, StoredMountPoint>;
  /** Bind-source existence probe (for `--mount type=bind`); fs by default. */
  exists?: (path: string) => boolean;
  /** Read-only binds on their top mount only (clients below API 1.44), recorded in their Spec. */
  readOnlyNonRecursive?: boolean;
  /** The daemon's data root: binds in it (or holding it) are made rslave (daemonRootPropagation). */
  dataRoot?: string;
}

/**
 * moby's validateBindDaemonRoot: a bind whose source is in the data root, or holds it (`-v /:/host`),
 * would let the container keep private copies of the daemon's own mounts (layers, volumes), which
 * the daemon then cannot remove. Without a propagation it gets rslave; rslave and rshared are
 * kept; any other is refused. The prefix test is moby's, on the strings as given.
 */
function daemonRootPropagation(point: StoredMountPoint, dataRoot: string | undefined): void {
  const spec = point.Spec;
  if (!dataRoot || point.Type !== 'bind' || !spec?.Source) return;
  if (!spec.Source.startsWith(dataRoot) && !dataRoot.startsWith(spec.Source)) return;
  const given = spec.BindOptions?.Propagation ?? '';
  if (given === '') {
    point.Propagation = 'rslave';
    return;
  }
  if (given === 'rslave' || given === 'rshared') return;
  throw invalidParameter(
    `invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, daemon root: ${JSON.stringify(dataRoot)}, bind mount source: ${JSON.stringify(spec.Source)}, propagation: ${JSON.stringify(given)}`,
  );
}

/** A read-only bind's Spec, marked read-only on its top mount only (moby's defaultReadOnlyNonRecursive). */
function topOnly(point: StoredMountPoint): void {
  if (point.Type !== 'bind' || point.RW) return;
  const spec = point.Spec ?? { Type: 'bind', Target: point.Destination };
  point.Spec = { ...spec, BindOptions: { ...spec.BindOptions, ReadOnlyNonRecursive: true } };
}

const duplicate = (dest: string) => invalidParameter(`Duplicate mount point: ${dest}`);

function asEngineError(err: unknown): unknown {
  return err instanceof MountConfigError ? invalidParameter(err.message) : err;
}

export async function registerMountPoints(store: VolumeStore, input: RegisterInput): Promise<Record<string, StoredMountPoint>> {
  const { containerId: id, hostConfig: hc } = input;
  const points: Record<string, StoredMountPoint> = {};
  const binds = new Set<string>();
  const taken: string[] = [];
  const createdAnonymous: string[] = [];

  const volume = async (mp: ParsedMount, opts: { labels?: Record<string, string>; options?: Record<string, string> } = {}) => {
    const { volume: v, created } = await store.create(mp.Name, { driver: mp.Driver || undefined, reference: id, ...opts });
    taken.push(v.Name);
    if (created && !mp.Name) createdAnonymous.push(v.Name);
    return v;
  };
  const put = (mp: StoredMountPoint) => {
    const old = points[mp.Destination];
    if (old?.Type === 'volume' && old.Name && old.Name !== mp.Name) store.release(old.Name, id);
    points[mp.Destination] = mp;
  };

  try {
    for (const spec of hc.VolumesFrom ?? []) {
      let ref: string;
      let mode: string;
      try {
        [ref, mode] = parseVolumesFrom(spec);
      } catch (err) {
        throw asEngineError(err);
      }
      let others: Record<string, StoredMountPoint>;
      try {
        others = input.mountPointsOf(ref);
      } catch (err) {
        throw isEngineError(err) ? new EngineError('InvalidParameter', err.message) : err;
      }
      for (const m of Object.values(others)) {
        // An image mount's layer is the other container's own, mounted only while it runs.
        if (m.Type === 'image') continue;
        const cp: StoredMountPoint = {
          Type: m.Type,
          Name: m.Name,
          Source: m.Source,
          Destination: m.Destination,
          Driver: m.Driver,
          Mode: '',
          RW: m.RW && readWrite(mode),
          Propagation: m.Propagation,
          Spec: m.Spec,
          CopyData: false,
        };
        if (cp.Type === 'volume' && cp.Name) {
          store.mustGet(cp.Name);
          store.addReference(cp.Name, id);
          taken.push(cp.Name);
        }
        put(cp);
      }
    }

    for (const raw of hc.Binds ?? []) {
      let mp: ParsedMount;
      try {
        mp = parseBind(raw, hc.VolumeDriver ?? '');
      } catch (err) {
        throw asEngineError(err);
      }
      if (binds.has(mp.Destination) || Object.hasOwn(hc.Tmpfs ?? {}, mp.Destination)) throw duplicate(mp.Destination);
      const point: StoredMountPoint = toStored(mp);
      daemonRootPropagation(point, input.dataRoot);
      if (input.readOnlyNonRecursive) topOnly(point);
      if (mp.Type === 'volume') {
        const v = await volume(mp);
        point.Name = v.Name;
        point.Driver = v.Driver;
        point.Source = store.dataPath(v.Name);
        if (!point.Mode) point.Mode = 'z';
      }
      binds.add(mp.Destination);
      put(point);
    }

    for (const cfg of hc.Mounts ?? []) {
      let mp: ParsedMount;
      try {
        mp = parseMountSpec(cfg, input.exists ?? existsSync);
      } catch (err) {
        throw asEngineError(err);
      }
      if (binds.has(mp.Destination)) throw duplicate(cfg.Target);
      const point = toStored(mp);
      daemonRootPropagation(point, input.dataRoot);
      if (mp.Type === 'bind') point.SkipMountpointCreation = !cfg.BindOptions?.CreateMountpoint;
      if (input.readOnlyNonRecursive) topOnly(point);
      if (mp.Type === 'volume') {
        const v = await volume(mp, {
          labels: cfg.VolumeOptions?.Labels ?? undefined,
          options: cfg.VolumeOptions?.DriverConfig?.Options ?? undefined,
        });
        point.Name = v.Name;
        point.Driver = v.Driver;
        point.Source = store.dataPath(v.Name);
        if (!point.Mode) point.Mode = 'z';
      }
      binds.add(mp.Destination);
      put(point);
    }

    for (const spec of Object.keys(input.config.Volumes ?? {})) {
      const dest = cleanPath(spec);
      if (points[dest] || Object.hasOwn(hc.Tmpfs ?? {}, dest)) continue;
      // A relative image or Config volume ("VOLUME data") is kept as Docker keeps it, and mounted
      // below / (oci-mounts.ts); only binds and --mount need absolute targets.
      const v = await volume({ Name: '', Driver: hc.VolumeDriver ?? '' } as ParsedMount);
      put({
        Type: 'volume',
        Name: v.Name,
        Source: store.dataPath(v.Name),
        Destination: dest,
        Driver: v.Driver,
        Mode: '',
        RW: true,
        Propagation: '',
        Spec: { Type: 'volume', Target: dest },
        CopyData: true,
      });
    }
  } catch (err) {
    for (const name of taken) store.release(name, id);
    for (const name of createdAnonymous) await store.remove(name, { purgeOnError: true }).catch(() => {});
    throw err;
  }
  return points;
}

function toStored(mp: ParsedMount): StoredMountPoint {
  return {
    Type: mp.Type,
    Name: mp.Name || undefined,
    Source: mp.Source,
    Destination: mp.Destination,
    Driver: mp.Driver || undefined,
    Mode: mp.Mode,
    RW: mp.RW,
    Propagation: mp.Propagation,
    Spec: mp.Spec,
    CopyData: mp.Type === 'volume' && mp.CopyData,
  };
}
