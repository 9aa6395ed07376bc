/** GET /containers/{id}/json and /containers/json. */
import type { ContainerListOptions } from '../../api/backend.js';
import type { ContainerInspect, ContainerSummary } from '../../api/types.js';
import { toInspect } from '../../container/inspect.js';
import { filterContainers, toSummary } from '../../container/list.js';
import { noSuchContainer } from '../../lib/errors.js';
import type { ContainerCore } from './core.js';

// A container's RW layer (mount id, lower dirs) never changes: its files are read once, not per inspect.
const graphDriverDataOf = new WeakMap<object, Promise<Record<string, string>>>();

export async function inspectContainer(c: ContainerCore, ref: string, opts: { size: boolean }): Promise<ContainerInspect> {
  const rec = c.get(ref);
  let gd = graphDriverDataOf.get(rec);
  if (!gd) graphDriverDataOf.set(rec, (gd = c.deps.layers.rwGraphDriverData(rec.ID)));
  const graphDriverData = await gd.catch((err: unknown) => {
    graphDriverDataOf.delete(rec);
    // Docker answers for a container being removed (its layer may be gone already) without the
    // layer's data, and one removed meanwhile is no longer there.
    if (c.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
    if (rec.State.RemovalInProgress || rec.State.Dead) return null;
    throw err;
  });
  const sizes = opts.size ? await c.deps.layers.rwSizes(rec.ID) : undefined;
  const out = toInspect(rec, { graphDriverData, ...sizes, execIds: c.deps.execIds?.(rec.ID) });
  out.HostConfig.Links = c.links.inspectLinks(rec, (id) => c.records.get(id));
  return out;
}

export async function listContainers(c: ContainerCore, opts: ContainerListOptions): Promise<ContainerSummary[]> {
  const chosen = filterContainers(c.all(), opts, {
    resolveContainer: (ref: string) => c.get(ref),
    resolveImage: async (ref: string) => (await c.deps.images.resolve(ref)).id,
    imageDescendants: (id: string) => c.deps.images.descendants(id),
  });
  const out: ContainerSummary[] = [];
  // moby's refreshImage: a reference that no longer names the container's image (re-tagged,
  // removed) is shown as the image ID.
  const current = new Map<string, Promise<string | undefined>>();
  const nowNames = (ref: string) => {
    let p = current.get(ref);
    if (!p) current.set(ref, (p = c.deps.images.lookup(ref).catch(() => undefined)));
    return p;
  };
  for (const rec of await chosen) {
    const sizes = opts.size ? await c.deps.layers.rwSizes(rec.ID).catch(() => undefined) : undefined;
    const linkNames = c.links.linkNames(rec.ID, (id) => c.records.get(id));
    const ref = rec.Config?.Image ?? rec.Image;
    const image = ref === rec.Image || (await nowNames(ref)) === rec.Image ? ref : rec.Image;
    out.push(toSummary(rec, { ...sizes, image, ...(linkNames.length ? { linkNames } : {}) }));
  }
  return out;
}
