/**
 * `--mount type=image` (API 1.48): an image's filesystem, read-only, in a container, as moby's
 * registerMountPoints makes it: at create a read-write layer on the image's layers, named for the
 * container, source and destination (so one image can be mounted at several places); its merged
 * dir is mounted at each start (daemon/volumes.ts) and the layer goes with the container.
 */
import { createHash } from 'node:crypto';
import type { ContainerRecord } from '../../container/container.js';
import type { StoredMountPoint } from '../../volume/mount-points.js';
import type { ImageResolver, RWLayers } from './deps.js';

export function imageMountLayerName(containerId: string, source: string, destination: string): string {
  return createHash('sha256').update(`${containerId}-src=${source}-dst=${destination}`).digest('hex');
}

const imageMounts = (points: ContainerRecord['MountPoints'] | undefined) =>
  Object.values((points ?? {}) as Record<string, StoredMountPoint>).filter((m) => m.Type === 'image');

/** Makes the layer of each image mount (the image must exist, as moby's GetImage); on failure removes those made. */
export async function createImageMounts(images: ImageResolver, layers: RWLayers, containerId: string, points: ContainerRecord['MountPoints']): Promise<void> {
  const made: string[] = [];
  try {
    for (const m of imageMounts(points)) {
      const source = m.Source;
      const { image, release } = await images.resolveForUse(source);
      try {
        const name = imageMountLayerName(containerId, source, m.Destination);
        await layers.createRWLayer(name, image.topChainId, { bare: true });
        made.push(name);
        m.ID = name;
        m.Name = source;
        m.Source = (await layers.rwGraphDriverData(name)).MergedDir ?? '';
        m.RW = false;
      } finally {
        release();
      }
    }
  } catch (err) {
    for (const name of made) await layers.removeRWLayer(name).catch(() => {});
    throw err;
  }
}

/** Removes the layers of a container's image mounts (rm, or a create that failed after them). */
export async function removeImageMounts(layers: RWLayers, points: ContainerRecord['MountPoints'] | undefined): Promise<void> {
  for (const m of imageMounts(points)) if (m.ID) await layers.removeRWLayer(m.ID);
}
