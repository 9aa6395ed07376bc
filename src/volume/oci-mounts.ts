/**
 * A container's mount points as OCI mounts (Docker's setupMounts + WithMounts): binds and
 * volumes as recursive binds with rw/ro and propagation, --mount tmpfs as tmpfs with Docker's
 * default flags. Shared or slave propagation needs the rootfs to propagate likewise.
 */
import { posix } from 'node:path';
import type { OciMount } from '../runtime/oci-spec.js';
import { tmpfsOptions } from '../runtime/spec.js';
import { systemError } from '../lib/errors.js';
import { DEFAULT_PROPAGATION, tmpfsData } from './mount-parser.js';
import type { StoredMountPoint } from './mount-points.js';

export interface OciMountSet {
  mounts: OciMount[];
  /** Set when a mount needs shared or slave propagation from the rootfs. */
  rootfsPropagation?: string;
}

/**
 * moby's choice for a read-only mount: recursively read-only (`rro`) unless the bind asks for its
 * top mount only, or `rro` cannot be made (`rroError`), which fails only a bind that insists.
 */
function readOnlyOption(m: StoredMountPoint, rroError: string | undefined): string {
  const bind = m.Spec?.Type === 'bind' ? m.Spec.BindOptions : undefined;
  if (bind?.ReadOnlyNonRecursive) return 'ro';
  if (rroError !== undefined) {
    if (bind?.ReadOnlyForceRecursive) throw systemError(rroError);
    return 'ro';
  }
  return 'rro';
}

/** moby's checks of a bind's BindOptions when it is mounted. */
function checkBindOptions(m: StoredMountPoint): void {
  const spec = m.Spec;
  const bind = spec?.Type === 'bind' ? spec.BindOptions : undefined;
  if (!bind) return;
  if (!spec!.ReadOnly && bind.ReadOnlyNonRecursive) throw systemError('mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive');
  if (!spec!.ReadOnly && bind.ReadOnlyForceRecursive) throw systemError('mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive');
  if (bind.ReadOnlyNonRecursive && bind.ReadOnlyForceRecursive) throw systemError('mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive');
}

/**
 * `privateDests`: mounts whose slave propagation falls back to the default (volume/propagation.ts).
 * `recursiveReadOnly`: whether read-only mounts can be recursively so, or why not (its error).
 */
export function ociMounts(
  points: Iterable<StoredMountPoint>,
  privateDests: ReadonlySet<string> = new Set(),
  recursiveReadOnly: { supported: true } | { supported: false; error: string } = { supported: false, error: 'rro is not supported' },
): OciMountSet {
  const rroError = recursiveReadOnly.supported ? undefined : recursiveReadOnly.error;
  const mounts: OciMount[] = [];
  let rootfsPropagation: string | undefined;
  for (const m of points) {
    if (m.Type === 'tmpfs') {
      const data = tmpfsData(m.Spec?.TmpfsOptions, !m.RW);
      mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(data) });
      continue;
    }
    // An image mount's merged layer (RW false: always read-only) is bound as a volume is.
    if (m.Type !== 'bind' && m.Type !== 'volume' && m.Type !== 'image') continue;
    checkBindOptions(m);
    const propagation = (!privateDests.has(m.Destination) && m.Propagation) || DEFAULT_PROPAGATION;
    const recursive = !m.Spec?.BindOptions?.NonRecursive;
    mounts.push({
      // A relative Config volume ('data') is mounted at /data, as Docker resolves it in the rootfs.
      destination: posix.isAbsolute(m.Destination) ? m.Destination : posix.join('/', m.Destination),
      type: 'bind',
      source: m.Source,
      options: [recursive ? 'rbind' : 'bind', m.RW ? 'rw' : readOnlyOption(m, rroError), propagation],
    });
    if (propagation === 'shared' || propagation === 'rshared') rootfsPropagation = 'shared';
    else if ((propagation === 'slave' || propagation === 'rslave') && rootfsPropagation !== 'shared') rootfsPropagation = 'rslave';
  }
  return { mounts, rootfsPropagation };
}
