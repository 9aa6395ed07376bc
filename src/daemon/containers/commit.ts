/**
 * POST /commit (`docker commit`): a new image whose top layer is the container's changes.
 * The container's overlay upper dir is archived with whiteouts turned back into `.wh.` entries
 * (containerfs/walk.ts) and streamed straight into the layer store on top of the image's layers;
 * the config is the request's config with the --change instructions applied, completed from
 * the container's (Docker's merge), and a history entry is appended. The container is paused
 * for the time unless `pause=0`. An empty diff adds no layer (an empty_layer history entry).
 */
import { open } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import type { CommitOptions } from '../../api/backend.js';
import type { ContainerConfig, ImageConfigFile } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { applyChanges } from '../../image/changes.js';
import { parseNormalizedNamed, familiarString, isValidTag, withDefaultTag, type Reference } from '../../image/reference.js';
import type { AppliedLayer } from '../../layer/layer-store.js';
import { conflict, invalidParameter } from '../../lib/errors.js';
import { rfc3339NanoNow } from '../../lib/wall-clock.js';
import type { Readable } from 'node:stream';
import { walkPool } from '../../containerfs/walk-pool.js';
import { removedMeanwhile, type ContainerAccess } from './access.js';
import { containerActor } from './events.js';
import { O_PATH } from '../../containerfs/root.js';
import { fdPath } from '../../lib/fd-path.js';
import { hostArch } from '../images/platform.js';
import type { ContainerPause } from './pause.js';

/** sha256 of an empty tar (1024 zero bytes): Docker's DigestSHA256EmptyTar. */
export const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** What commit needs of the image service (daemon/images.ts). */
export interface CommitImages {
  resolve(ref: string): Promise<{ id: string; config: ImageConfigFile; topChainId: string | null }>;
  registerImage(raw: Buffer, refs: Reference[], parent?: string): Promise<{ id: string }>;
  releaseLayers(chains: string[]): Promise<void>;
  layers: { applyLayer(parent: string | null, src: Readable): Promise<AppliedLayer>; unpin(chainId: string): void };
}

export type CommitRequest = CommitOptions;


/** Docker's commit merge: what the user's config leaves unset comes from the container's. */
export function mergeCommitConfig(user: ContainerConfig, container: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = { ...user };
  if (!out.User) out.User = container.User;
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) out.ExposedPorts = container.ExposedPorts;
  else out.ExposedPorts = { ...(container.ExposedPorts ?? {}), ...out.ExposedPorts };
  if (!out.Env?.length) out.Env = container.Env;
  else {
    const keys = new Set(out.Env.map((e) => e.split('=', 1)[0]));
    out.Env = [...(container.Env ?? []).filter((e) => !keys.has(e.split('=', 1)[0])), ...out.Env];
  }
  out.Labels = { ...(container.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) out.Cmd = container.Cmd;
    out.Entrypoint = container.Entrypoint;
  }
  if (!out.Healthcheck) out.Healthcheck = container.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = container.WorkingDir;
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = container.Volumes;
  else out.Volumes = { ...(container.Volumes ?? {}), ...out.Volumes };
  if (!out.StopSignal) out.StopSignal = container.StopSignal;
  if (!out.Shell?.length && container.Shell) out.Shell = container.Shell;
  if (out.OnBuild === undefined && container.OnBuild) out.OnBuild = container.OnBuild;
  for (const k of ['Hostname', 'Domainname', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'Image'] as const) {
    if (out[k] === undefined && container[k] !== undefined) (out as Record<string, unknown>)[k] = container[k];
  }
  return out;
}

function parseTarget(repo: string | undefined, tag: string | undefined): Reference | null {
  if (!repo) {
    if (tag) throw invalidParameter('refusing to create a tag with no reference');
    return null;
  }
  let ref: Reference;
  try {
    ref = parseNormalizedNamed(repo);
  } catch (err) {
    throw invalidParameter(err instanceof Error ? err.message : String(err));
  }
  if (ref.digest !== undefined) throw invalidParameter('cannot commit to digest reference');
  if (tag) {
    if (!isValidTag(tag)) throw invalidParameter(`invalid tag format`);
    ref = { ...ref, tag };
  }
  return withDefaultTag(ref);
}

export class ContainerCommit {
  constructor(
    private readonly c: ContainerAccess,
    private readonly images: CommitImages,
    private readonly pauser: ContainerPause,
  ) {}

  async commit(ref: string, req: CommitRequest): Promise<{ Id: string }> {
    const rec = this.c.get(ref);
    const target = parseTarget(req.repo, req.tag);
    if (rec.State.RemovalInProgress || rec.State.Dead) throw conflict(`You cannot commit container ${rec.ID} which is being removed`);
    // Without a config in the request Docker applies the changes to the container's (so an ENV
    // change sees the container's variables).
    const config = mergeCommitConfig(applyChanges(req.changes, req.config ?? rec.Config), rec.Config);
    const image = await this.images.resolve(rec.Image);

    // As Docker: a container that exits meanwhile (or fails to pause) is committed as it is.
    const pause = req.pause && (await this.pauser.pauseIfRunning(rec.ID));
    let layer: AppliedLayer;
    try {
      layer = await this.diffLayer(rec, image.topChainId);
    } catch (err) {
      // An rm that came meanwhile took the upper dir from under the walk: say so, as Docker's
      // check before the commit would have, rather than the file that was missing.
      if (removedMeanwhile(this.c, rec)) throw conflict(`You cannot commit container ${rec.ID} which is being removed`);
      throw err;
    } finally {
      if (pause) await this.pauser.unpause(rec.ID).catch((err) => this.c.deps.log(`unpause ${rec.ID} after commit: ${err}`));
    }

    let registered: string | undefined;
    const empty = layer.diffId === EMPTY_TAR_DIFF_ID;
    try {
      const created = rfc3339NanoNow();
      const history = [...(image.config.history ?? [])];
      const entry: NonNullable<ImageConfigFile['history']>[number] = { created, created_by: (rec.Config.Cmd ?? []).join(' ') };
      if (req.author) entry.author = req.author;
      if (req.comment) entry.comment = req.comment;
      if (empty) entry.empty_layer = true;
      history.push(entry);
      const file: ImageConfigFile = {
        architecture: image.config.architecture || hostArch(),
        ...(image.config.variant ? { variant: image.config.variant } : {}),
        os: image.config.os || 'linux',
        config,
        container: rec.ID,
        created,
        docker_version: image.config.docker_version ?? '',
        ...(req.author ? { author: req.author } : {}),
        ...(req.comment ? { comment: req.comment } : {}),
        history,
        rootfs: { type: 'layers', diff_ids: [...(image.config.rootfs?.diff_ids ?? []), ...(empty ? [] : [layer.diffId])] },
      };
      registered = (await this.images.registerImage(Buffer.from(JSON.stringify(file)), target ? [target] : [], image.id)).id;
    } finally {
      this.images.layers.unpin(layer.chainId);
      if (registered === undefined) await this.images.releaseLayers([layer.chainId]).catch((err) => this.c.deps.log(`commit ${rec.ID}: releasing the layer: ${err}`));
    }
    if (empty) await this.images.releaseLayers([layer.chainId]).catch((err) => this.c.deps.log(`commit ${rec.ID}: releasing the empty layer: ${err}`));
    const id = registered;

    const events = this.c.deps.events;
    events.log('container', 'commit', containerActor(rec, { comment: req.comment ?? '', imageID: id, imageRef: target ? familiarString(target) : '' }));
    if (target) events.log('image', 'tag', { ID: id, Attributes: { ...(config.Labels ?? {}), name: familiarString(target) } });
    return { Id: id };
  }

  /** The container's upper dir as a layer on top of `parent`. */
  private async diffLayer(rec: ContainerRecord, parent: string | null): Promise<AppliedLayer> {
    const data = await this.c.deps.layers.rwGraphDriverData(rec.ID);
    return upperDirLayer(data.UpperDir!, parent, (p, src) => this.images.layers.applyLayer(p, src));
  }
}

/** An overlay upper dir, whiteouts turned back into `.wh.` entries, applied as a layer on `parent` (commit and build). */
export async function upperDirLayer(
  upper: string,
  parent: string | null,
  apply: (parent: string | null, src: Readable) => Promise<AppliedLayer>,
  opts: { asLayer?: boolean } = {},
): Promise<AppliedLayer> {
  const root = await open(upper, O_PATH | fsc.O_DIRECTORY);
  const tar = walkPool.tar({ at: fdPath(root), name: '', children: true }, { whiteouts: true, ...opts });
  try {
    return await apply(parent, tar);
  } finally {
    tar.destroy();
    await tar.stopped;
    await root.close();
  }
}
