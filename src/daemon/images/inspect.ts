/** GET /images/{name}/json and /images/{name}/history. */
import type { ImageHistoryItem, ImageInspect, OciPlatform } from '../../api/types.js';
import { requestedPlatform } from './platform.js';
import { chainIds, topChainId } from '../../layer/chain-id.js';
import { invalidParameter } from '../../lib/errors.js';
import { unixSeconds, type ImageCore } from './core.js';

const NEVER = '0001-01-01T00:00:00Z';
/** What Docker showed as ContainerConfig for an image without one (a zero-valued Go struct). */
const EMPTY_CONTAINER_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false,
  OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null,
  OnBuild: null, Labels: null,
};

export async function inspectImage(c: ImageCore, ref: string, platform?: OciPlatform): Promise<ImageInspect> {
  const id = await c.lookup(ref);
  const config = await c.configOf(id);
  if (platform) c.checkPlatform(ref, config, requestedPlatform(platform));
  const top = topChainId(config.rootfs?.diff_ids ?? []);
  const size = await c.sizeOf(config);
  const inspect: ImageInspect = {
    Id: id,
    RepoTags: c.tagsOf(id),
    RepoDigests: c.digestsOf(id),
    Parent: await c.images.parent(id),
    Comment: config.comment ?? '',
    Created: config.created ?? '',
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: config.architecture,
    Os: config.os,
    Size: size,
    GraphDriver: { Name: 'overlay2', Data: top ? await c.layers.graphDriverData(top) : null },
    RootFS: { Type: config.rootfs?.type ?? '', Layers: config.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: (await c.images.lastUpdated(id)) ?? NEVER },
  };
  if (config.variant) inspect.Variant = config.variant;
  inspect.Container = config.container ?? '';
  inspect.ContainerConfig = config.container_config ?? EMPTY_CONTAINER_CONFIG;
  return inspect;
}

export async function imageHistory(c: ImageCore, ref: string, platform?: OciPlatform): Promise<ImageHistoryItem[]> {
  const id = await c.lookup(ref);
  const config = await c.configOf(id);
  if (platform) c.checkPlatform(ref, config, requestedPlatform(platform));
  const diffIds = config.rootfs?.diff_ids ?? [];
  const chains = chainIds(diffIds);
  const out: ImageHistoryItem[] = [];
  let layer = 0;
  for (const h of config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      if (layer >= diffIds.length) throw invalidParameter('too many non-empty layers in History section');
      size = (await c.layers.get(chains[layer]!))?.size ?? 0;
      layer++;
    }
    out.unshift({ Id: '<missing>', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' });
  }
  // As moby: the rows take the IDs (and tags) of the image and then of its parent chain, one
  // image a row, while parent links last (a built image's intermediate images); the rest stay <missing>.
  let rowImage = id;
  for (const row of out) {
    row.Id = rowImage;
    const tags = c.tagsOf(rowImage);
    row.Tags = tags.length ? tags : null;
    rowImage = await c.images.parent(rowImage);
    if (!rowImage || !(await c.images.has(rowImage))) break;
  }
  return out;
}
