/**
 * Docker's Linux mount parser (moby volume/mounts/linux_parser.go): `-v` specs, `--mount`
 * specs, `--volumes-from` specs, mount modes and tmpfs options, with Docker's messages.
 * Pure: the only host access is the optional `exists` probe for bind sources.
 */
import { posix } from 'node:path';
import type { MountSpec } from '../api/types.js';

/** A parsed mount before any volume is created: what registerMountPoints works from. */
export interface ParsedMount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'image';
  /** Volume name ('' for an anonymous volume). */
  Name: string;
  /** Host path for binds. */
  Source: string;
  Destination: string;
  Driver: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Copy the image's content into an empty volume (Docker's CopyData; false with `nocopy`). */
  CopyData: boolean;
  Spec: MountSpec;
}

export class MountConfigError extends Error {}

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const PROPAGATION_MODES = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);
const COPY_MODES = new Set(['nocopy']);
export const DEFAULT_PROPAGATION = 'rprivate';

/** Go's path.Clean: normalised, no trailing slash but for the root. */
export function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Go's filepath.IsLocal: relative, not empty, and no `..` that climbs out once cleaned. */
function isLocalPath(p: string): boolean {
  if (p === '' || p.startsWith('/')) return false;
  let depth = 0;
  for (const part of p.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return false;
  }
  return true;
}

const mountConfigError = (type: string, msg: string) => new MountConfigError(`invalid mount config for type "${type}": ${msg}`);
const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;
export const invalidMode = (mode: string) => new MountConfigError(`invalid mode: ${mode}`);

/** Whether `mode` is a valid comma list with at most one of each kind (rw, label, propagation, copy, consistency). */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    if (RW_MODES.has(o)) counts[0]!++;
    else if (LABEL_MODES.has(o)) counts[1]!++;
    else if (PROPAGATION_MODES.has(o)) counts[2]!++;
    else if (COPY_MODES.has(o)) counts[3]!++;
    else if (CONSISTENCY_MODES.has(o)) counts[4]!++;
    else return false;
  }
  return counts.every((c) => c <= 1);
}

export function readWrite(mode: string): boolean {
  if (!validMountMode(mode)) return false;
  return !mode.split(',').includes('ro');
}

function propagationOf(mode: string): string | undefined {
  return mode.split(',').find((o) => PROPAGATION_MODES.has(o));
}

/** `nocopy` in a mode: [copyData, isSet]. */
function copyModeOf(mode: string): [boolean, boolean] {
  return mode.split(',').includes('nocopy') ? [false, true] : [true, false];
}

function validateAbsolute(p: string): string | undefined {
  return posix.isAbsolute(p.replaceAll('\\', '/')) ? undefined : `invalid mount path: '${p}' mount path must be absolute`;
}

function validateNotRoot(p: string): string | undefined {
  return posix.normalize(p.replaceAll('\\', '/')) === '/' ? 'invalid specification: destination can\'t be \'/\'' : undefined;
}

/** Docker's ConvertTmpfsOptions: a MountSpec's tmpfs options as mount data (`ro,mode=1777,size=10m`). */
export function tmpfsData(opt: MountSpec['TmpfsOptions'], readOnly: boolean): string {
  const raw: string[] = [];
  if (readOnly) raw.push('ro');
  if (opt?.Mode) raw.push(`mode=${opt.Mode.toString(8)}`);
  if (opt?.SizeBytes) {
    let size = opt.SizeBytes;
    let suffix = '';
    for (const [s, d] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    raw.push(`size=${size}${suffix}`);
  }
  return raw.join(',');
}

/**
 * Validates a `--mount` / HostConfig.Mounts entry and turns it into a ParsedMount
 * (Docker's ParseMountSpec). `exists` checks bind sources; pass undefined to skip the check.
 */
export function parseMountSpec(cfg: MountSpec, exists?: (path: string) => boolean): ParsedMount {
  const type = cfg.Type as string;
  const extra: Array<[unknown, string, string]> = [
    [cfg.BindOptions, 'bind', 'BindOptions'],
    [cfg.VolumeOptions, 'volume', 'VolumeOptions'],
    [cfg.ImageOptions, 'image', 'ImageOptions'],
    [cfg.TmpfsOptions, 'tmpfs', 'TmpfsOptions'],
  ];
  for (const [v, t, name] of extra) if (v && type !== t) throw mountConfigError(type, `field ${name} must not be specified`);
  if (!cfg.Target) throw mountConfigError(type, 'field Target must not be empty');
  const notRoot = validateNotRoot(cfg.Target);
  if (notRoot) throw mountConfigError(type, notRoot);
  const abs = validateAbsolute(cfg.Target);
  if (abs) throw mountConfigError(type, abs);
  const mp: ParsedMount = {
    Type: 'volume',
    Name: '',
    Source: '',
    Destination: cleanPath(cfg.Target),
    Driver: '',
    Mode: '',
    RW: !cfg.ReadOnly,
    Propagation: '',
    CopyData: true,
    Spec: cfg,
  };
  switch (type) {
    case 'bind': {
      if (!cfg.Source) throw mountConfigError(type, 'field Source must not be empty');
      const prop = cfg.BindOptions?.Propagation;
      if (prop && !PROPAGATION_MODES.has(prop)) throw mountConfigError(type, `invalid propagation mode: ${prop}`);
      const srcAbs = validateAbsolute(cfg.Source);
      if (srcAbs) throw mountConfigError(type, srcAbs);
      if (exists && !exists(cfg.Source) && !cfg.BindOptions?.CreateMountpoint) throw mountConfigError(type, `bind source path does not exist: ${cfg.Source}`);
      mp.Type = 'bind';
      mp.Source = cleanPath(cfg.Source);
      mp.Propagation = prop || DEFAULT_PROPAGATION;
      mp.CopyData = false;
      break;
    }
    case 'volume': {
      const sub = cfg.VolumeOptions?.Subpath;
      if (sub) {
        if (!cfg.Source) throw mountConfigError(type, 'must not set Subpath when using anonymous volumes');
        if (!isLocalPath(sub)) throw mountConfigError(type, 'subpath must be a relative path within the volume');
      }
      mp.Name = cfg.Source ?? '';
      mp.Driver = cfg.VolumeOptions?.DriverConfig?.Name ?? '';
      if (cfg.VolumeOptions?.NoCopy) mp.CopyData = false;
      break;
    }
    case 'tmpfs':
      if (cfg.Source) throw mountConfigError(type, 'field Source must not be specified');
      mp.Type = 'tmpfs';
      mp.CopyData = false;
      break;
    case 'image': {
      // API 1.48: an image's filesystem, read-only; its layer is made at create (image-mounts.ts).
      if (!cfg.Source) throw mountConfigError(type, 'field Source must not be empty');
      const sub = cfg.ImageOptions?.Subpath;
      if (sub && !isLocalPath(sub)) throw mountConfigError(type, 'subpath must be a relative path within the volume');
      mp.Type = 'image';
      mp.Source = cfg.Source;
      mp.Propagation = DEFAULT_PROPAGATION;
      mp.CopyData = false;
      break;
    }
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
  return mp;
}

/** A `-v` / HostConfig.Binds entry (Docker's ParseMountRaw): `src:dst[:mode]`, no bind-source check. */
export function parseBind(raw: string, volumeDriver = ''): ParsedMount {
  const arr = splitN(raw, ':', 4);
  if (arr[0] === '') throw new MountConfigError(invalidSpec(raw));
  const spec: MountSpec = { Type: 'volume', Target: '' };
  let mode = '';
  switch (arr.length) {
    case 1:
      spec.Target = arr[0]!;
      break;
    case 2:
      if (validMountMode(arr[1]!)) throw new MountConfigError(invalidSpec(raw));
      spec.Source = arr[0]!;
      spec.Target = arr[1]!;
      break;
    case 3:
      spec.Source = arr[0]!;
      spec.Target = arr[1]!;
      mode = arr[2]!;
      break;
    default:
      throw new MountConfigError(invalidSpec(raw));
  }
  if (!validMountMode(mode)) throw invalidMode(mode);
  spec.Type = posix.isAbsolute(spec.Source ?? '') ? 'bind' : 'volume';
  spec.ReadOnly = !readWrite(mode);
  if (volumeDriver && spec.Type === 'volume') spec.VolumeOptions = { DriverConfig: { Name: volumeDriver } };
  const [copyData, copySet] = copyModeOf(mode);
  if (copySet) spec.VolumeOptions = { ...(spec.VolumeOptions ?? {}), NoCopy: !copyData };
  const prop = propagationOf(mode);
  if (prop) spec.BindOptions = { Propagation: prop };
  let mp: ParsedMount;
  try {
    mp = parseMountSpec(spec);
  } catch (err) {
    throw new MountConfigError(`${invalidSpec(raw)}: ${(err as Error).message}`);
  }
  mp.Mode = mode;
  return mp;
}

/** `--volumes-from ctr[:mode]`: [container, mode], mode 'rw' by default; no propagation or copy modes. */
export function parseVolumesFrom(spec: string): [string, string] {
  if (spec === '') throw new MountConfigError('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const id = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  if (mode === '') return [id, 'rw'];
  if (!validMountMode(mode) || propagationOf(mode) || copyModeOf(mode)[1]) throw invalidMode(mode);
  return [id, mode];
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}
