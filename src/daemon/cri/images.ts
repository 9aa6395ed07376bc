/**
 * The CRI ImageService over the engine's image store (the one `docker pull` fills): names are
 * reported fully qualified (`docker.io/library/busybox:latest`), as CRI runtimes do.
 */
import type { ImagePullOptions, RegistryAuth } from '../../api/backend.js';
import type { AuthConfig__Output } from '../../cri/gen/runtime/v1/AuthConfig.js';
import type { Image } from '../../cri/gen/runtime/v1/Image.js';
import type { ImageFsInfoResponse } from '../../cri/gen/runtime/v1/ImageFsInfoResponse.js';
import { fullName, fullString, parseNormalizedNamed, withDefaultTag } from '../../image/reference.js';
import { invalidParameter, isEngineError, systemError } from '../../lib/errors.js';
import type { ResolvedImage } from '../images.js';
import type { CriEngine } from './engine.js';
import { nowNanos } from './time.js';
import { join } from 'node:path';

function criImage(img: ResolvedImage, size: number): Image {
  const tags: string[] = [];
  const digests: string[] = [];
  for (const familiar of img.references) {
    const ref = parseNormalizedNamed(familiar);
    if (ref.digest !== undefined) digests.push(`${fullName(ref)}@${ref.digest}`);
    else tags.push(fullString(ref));
  }
  const user = img.config.config?.User ?? '';
  const name = user.split(':')[0] ?? '';
  const numeric = /^\d+$/.test(name);
  return {
    id: img.id,
    repo_tags: tags,
    repo_digests: digests,
    size: String(size),
    // containerd: a numeric user is the uid, a name goes to username; none is uid 0 (root).
    uid: numeric ? { value: name } : name ? null : { value: '0' },
    username: numeric ? '' : name,
    spec: { image: img.id, annotations: {} },
    pinned: false,
  };
}

function registryAuth(auth: AuthConfig__Output | null | undefined): RegistryAuth | undefined {
  if (!auth) return undefined;
  const out: RegistryAuth = {
    ...(auth.username ? { username: auth.username } : {}),
    ...(auth.password ? { password: auth.password } : {}),
    ...(auth.auth ? { auth: auth.auth } : {}),
    ...(auth.server_address ? { serveraddress: auth.server_address } : {}),
    ...(auth.identity_token ? { identitytoken: auth.identity_token } : {}),
    ...(auth.registry_token ? { registrytoken: auth.registry_token } : {}),
  };
  return Object.keys(out).length ? out : undefined;
}

export class CriImages {
  constructor(private readonly engine: CriEngine) {}

  /** The image for a CRI ref (name, name:tag, name@digest, ID or ID prefix), or undefined. */
  private async find(ref: string): Promise<ResolvedImage | undefined> {
    if (!ref) throw invalidParameter('image must be named');
    try {
      return await this.engine.images.resolve(ref);
    } catch (err) {
      if (isEngineError(err, 'NotFound') || isEngineError(err, 'InvalidParameter')) return undefined;
      throw err;
    }
  }

  private async sizes(): Promise<Map<string, number>> {
    const list = await this.engine.images.list({ all: false, filters: {}, digests: true });
    return new Map(list.map((i) => [i.Id, i.Size]));
  }

  async list(filterRef: string | undefined): Promise<Image[]> {
    const sizes = await this.sizes();
    if (filterRef) {
      const img = await this.find(filterRef);
      return img ? [criImage(img, sizes.get(img.id) ?? 0)] : [];
    }
    const out: Image[] = [];
    for (const [id, size] of sizes) {
      const img = await this.find(id);
      if (img) out.push(criImage(img, size));
    }
    return out;
  }

  async status(ref: string, verbose: boolean): Promise<{ image: Image | null; info: Record<string, string> }> {
    const img = await this.find(ref);
    if (!img) return { image: null, info: {} };
    const sizes = await this.sizes();
    const info: Record<string, string> = verbose ? { info: JSON.stringify({ chainID: img.topChainId, imageSpec: img.config }) } : {};
    return { image: criImage(img, sizes.get(img.id) ?? 0), info };
  }

  async pull(ref: string, auth: AuthConfig__Output | null | undefined, signal: AbortSignal): Promise<string> {
    if (!ref) throw invalidParameter('image must be named');
    const named = withDefaultTag(parseNormalizedNamed(ref));
    const opts: ImagePullOptions = { signal };
    const name = fullName(named);
    const tagOrDigest = named.digest ?? named.tag;
    for await (const msg of this.engine.images.pull(name, tagOrDigest, opts, registryAuth(auth))) {
      if (msg.error) throw systemError(`failed to pull image ${JSON.stringify(ref)}: ${msg.error}`);
    }
    const img = await this.engine.images.resolve(fullString(named));
    return img.id;
  }

  async remove(ref: string): Promise<void> {
    const img = await this.find(ref);
    if (!img) return; // removing a missing image succeeds (kubelet's image GC races)
    // Every name of the image goes, as containerd's RemoveImage deletes the image record.
    try {
      await this.engine.images.remove(img.id, { force: true, noprune: false });
    } catch (err) {
      if (!isEngineError(err, 'NotFound')) throw err;
    }
  }

  async fsInfo(): Promise<ImageFsInfoResponse> {
    const sizes = await this.sizes();
    let used = 0;
    for (const s of sizes.values()) used += s;
    const usage = {
      timestamp: nowNanos(),
      fs_id: { mountpoint: join(this.engine.dataRoot, 'overlay2') },
      used_bytes: { value: String(used) },
      inodes_used: { value: '0' },
    };
    return { image_filesystems: [usage], container_filesystems: [] };
  }
}
