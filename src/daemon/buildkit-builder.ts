/**
 * What wharfd's BuildKit API builds with: the classic builder (daemon/build.ts) over the context
 * the client's session sent, and the image store for the exporter's names.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { DockerfileBuilder } from '../buildkit/service.js';
import type { FrontendOptions } from '../buildkit/frontend-options.js';
import type { NamedContextProvider } from '../build/named-contexts.js';
import type { SshAgents } from '../api/backend.js';
import { fullString, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import { invalidParameter } from '../lib/errors.js';
import type { BuildService } from './build.js';
import type { ImageService } from './images/service.js';
import { goArch, WHARF_VERSION } from './system.js';

export class BuildkitBuilder implements DockerfileBuilder {
  readonly worker;
  readonly version = { package: 'wharf', version: WHARF_VERSION, revision: '' };

  constructor(
    private readonly builds: BuildService,
    private readonly images: ImageService,
    hostGatewayIp: () => string,
  ) {
    this.worker = { id: createHash('sha256').update(hostname()).digest('hex').slice(0, 25), platform: { OS: 'linux', Architecture: goArch() }, hostGatewayIp };
  }

  build(
    req: { context: Readable; dockerfile: string; options: FrontendOptions; secret: (id: string) => Promise<Buffer | null>; ssh: SshAgents; namedContexts: NamedContextProvider },
    signal: AbortSignal,
  ) {
    const o = req.options;
    return this.builds.build(
      req.context,
      {
        dockerfile: o.filename,
        dockerfileText: req.dockerfile,
        dialect: 'buildkit',
        secret: req.secret,
        tags: [],
        buildArgs: new Map(o.buildArgs),
        target: o.target,
        noCache: o.noCache,
        pull: o.pull,
        rm: true,
        forceRm: true,
        labels: o.labels,
        networkMode: o.networkMode,
        extraHosts: o.extraHosts,
        quiet: false,
        platform: o.platform,
        cacheFrom: [],
        ...(o.shmSize !== undefined ? { shmSize: o.shmSize } : {}),
        ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}),
        ...(o.ulimits ? { ulimits: o.ulimits } : {}),
        sandboxHostname: o.hostname,
        networkHostAllowed: o.networkHostAllowed,
        ...(o.cacheMountNamespace ? { cacheMountNamespace: o.cacheMountNamespace } : {}),
        ssh: req.ssh,
        namedContexts: req.namedContexts,
      },
      signal,
    );
  }

  async imageConfig(imageId: string): Promise<Buffer> {
    const img = await this.images.images.get(imageId);
    if (!img) throw new Error(`image ${imageId} not found`);
    return Buffer.from(JSON.stringify(img.config));
  }

  async openImageRoot(imageId: string) {
    const { root, cleanup } = await this.builds.openImageRoot(imageId);
    return { root, close: cleanup };
  }

  cacheRecords() {
    return this.builds.cacheRecords();
  }

  pruneCache(opts: { filters: Record<string, string[]>; keepBytes?: number }) {
    return this.builds.pruneCache(opts);
  }

  async tag(imageId: string, name: string): Promise<string> {
    let ref;
    try {
      ref = parseNormalizedNamed(name);
    } catch {
      throw invalidParameter(`invalid reference format: ${name}`);
    }
    if (ref.digest !== undefined) throw invalidParameter(`invalid reference format: ${name}: a name cannot have a digest`);
    await this.images.tag(imageId, fullString(withDefaultTag(ref)));
    return fullString(ref);
  }
}
