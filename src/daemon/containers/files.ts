/**
 * The API's ContainerFilesBackend and ContainerControlBackend over the modules that do the work:
 * archive.ts (cp, export), changes.ts (diff), commit.ts, pause.ts, update.ts.
 */
import type { Readable } from 'node:stream';
import { noSuchContainer } from '../../lib/errors.js';
import type { HostConfig } from '../../api/types.js';
import { ContainerArchive } from '../archive.js';
import { containerChanges } from '../../containerfs/diff.js';
import { ContainerCommit, type CommitImages } from './commit.js';
import { removedMeanwhile, type ContainerAccess } from './access.js';
import { ContainerPause } from './pause.js';
import { ContainerUpdate } from './update.js';
import type { ContainerPathStat, FilesystemChange } from '../../api/types.js';
import type { CommitOptions, ContainerControlBackend, ContainerFilesBackend } from '../../api/backend.js';

export class ContainerFilesService implements ContainerFilesBackend {
  private readonly archive: ContainerArchive;
  private readonly committer: ContainerCommit;

  constructor(
    private readonly c: ContainerAccess,
    images: CommitImages,
    pauser: ContainerPause,
  ) {
    this.archive = new ContainerArchive(c);
    this.committer = new ContainerCommit(c, images, pauser);
  }

  statPath(ref: string, path: string): Promise<ContainerPathStat> {
    return this.archive.stat(ref, path);
  }
  archivePath(ref: string, path: string): Promise<{ stat: ContainerPathStat; stream: Readable }> {
    return this.archive.archive(ref, path);
  }
  extractToDir(ref: string, path: string, content: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    return this.archive.extract(ref, path, content, opts);
  }
  async changes(ref: string): Promise<FilesystemChange[]> {
    const rec = this.c.get(ref);
    try {
      const data = await this.c.deps.layers.rwGraphDriverData(rec.ID);
      return await containerChanges(data.UpperDir!, (data.LowerDir ?? '').split(':').filter(Boolean));
    } catch (err) {
      // An rm that took the layer from under the walk: the container is gone, not the file.
      if (removedMeanwhile(this.c, rec)) throw noSuchContainer(ref);
      throw err;
    }
  }
  export(ref: string): Promise<Readable> {
    return this.archive.export(ref);
  }
  commit(ref: string, opts: CommitOptions): Promise<{ Id: string }> {
    return this.committer.commit(ref, opts);
  }
}

export class ContainerControlService implements ContainerControlBackend {
  readonly pauser: ContainerPause;
  private readonly updater: ContainerUpdate;

  constructor(c: ContainerAccess) {
    this.pauser = new ContainerPause(c);
    this.updater = new ContainerUpdate(c);
  }

  pause(ref: string): Promise<void> {
    return this.pauser.pause(ref);
  }
  unpause(ref: string): Promise<void> {
    return this.pauser.unpause(ref);
  }
  update(ref: string, body: Partial<HostConfig>): Promise<{ Warnings: string[] | null }> {
    return this.updater.update(ref, body);
  }
}

/** Builds both services for the daemon wiring. */
export function containerFileServices(c: ContainerAccess, images: CommitImages): { files: ContainerFilesService; control: ContainerControlService } {
  const control = new ContainerControlService(c);
  return { files: new ContainerFilesService(c, images, control.pauser), control };
}
