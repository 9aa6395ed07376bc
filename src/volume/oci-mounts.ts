/**
 * A container's mount points as OCI mounts (Docker's setupMounts + WithMounts): binds and
 * volumes as recursive binds with rw/ro and propagation, --mount tmpfs as tmpfs with Docker's
 * default flags. Shared or slave propagation needs the rootfs to propagate likewise.
 */
import { posix } from 'node:path';
import type { OciMount } from '../runtime/oci-spec.js';
import { tmpfsOptions } from '../runtime/spec.js';
import { DEFAULT_PROPAGATION, tmpfsData } from './mount-parser.js';
import type { StoredMountPoint } from './mount-points.js';

export interface OciMountSet {
  mounts: OciMount[];
  /** Set when a mount needs shared or slave propagation from the rootfs. */
  rootfsPropagation?: string;
}

/** `privateDests`: mounts whose slave propagation falls back to the default (volume/propagation.ts). */
export function ociMounts(points: Iterable<StoredMountPoint>, privateDests: ReadonlySet<string> = new Set()): OciMountSet {
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
    const propagation = (!privateDests.has(m.Destination) && m.Propagation) || DEFAULT_PROPAGATION;
    const recursive = !m.Spec?.BindOptions?.NonRecursive;
    mounts.push({
      // A relative Config volume ('data') is mounted at /data, as Docker resolves it in the rootfs.
      destination: posix.isAbsolute(m.Destination) ? m.Destination : posix.join('/', m.Destination),
      type: 'bind',
      source: m.Source,
      options: [recursive ? 'rbind' : 'bind', m.RW ? 'rw' : 'ro', propagation],
    });
    if (propagation === 'shared' || propagation === 'rshared') rootfsPropagation = 'shared';
    else if ((propagation === 'slave' || propagation === 'rslave') && rootfsPropagation !== 'shared') rootfsPropagation = 'rslave';
  }
  return { mounts, rootfsPropagation };
}
