/**
 * The infra ("pause") image of pod sandboxes. By default it is built here from Debian's static
 * `catatonit` (run as `catatonit -P`, its pause mode: PID 1 that sleeps and reaps) and registered
 * as `wharf/pause:<catatonit version>` in the same image store as `docker pull`; nothing is pulled.
 * daemon.json `cri-pause-image` names another image, which is pulled when missing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { isEngineError, systemError } from '../../lib/errors.js';
import type { CriEngine } from './engine.js';

export const CATATONIT = '/usr/bin/catatonit';
const PAUSE_REPO = 'wharf/pause';
/** Fixed mtime, so the same catatonit gives the same layer. */
const MTIME = new Date('2024-01-01T00:00:00Z');

/** `wharf/pause:<version>` from `catatonit --version` ("tini version 0.1.7_catatonit"). */
export async function defaultPauseImage(): Promise<string> {
  const { stdout } = await promisify(execFile)(CATATONIT, ['--version']).catch((err: Error) => {
    throw systemError(`the pod infra image needs ${CATATONIT} (Debian package catatonit): ${err.message}`);
  });
  const version = /(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? 'latest';
  return `${PAUSE_REPO}:${version}`;
}

async function pauseRootfsTar(): Promise<Buffer> {
  const binary = await readFile(CATATONIT);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const dir of ['dev', 'etc', 'proc', 'sys']) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: MTIME });
  pack.entry({ name: 'pause', type: 'file', mode: 0o755, mtime: MTIME }, binary);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Resolves the pause image to use, building (default) or pulling (configured) it once when missing. */
export class PauseImage {
  private ready?: Promise<string>;

  constructor(private readonly engine: CriEngine, private readonly configured?: string) {}

  ensure(): Promise<string> {
    this.ready ??= this.make().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    // Removed meanwhile (docker rmi): check again each time, cheaply.
    return this.ready.then(async (name) => {
      try {
        await this.engine.images.resolve(name);
        return name;
      } catch (err) {
        if (!isEngineError(err, 'NotFound')) throw err;
        this.ready = undefined;
        return this.ensure();
      }
    });
  }

  private async make(): Promise<string> {
    const name = this.configured || (await defaultPauseImage());
    try {
      await this.engine.images.resolve(name);
      return name;
    } catch (err) {
      if (!isEngineError(err, 'NotFound')) throw err;
    }
    const messages = this.configured
      ? this.engine.images.pull(name, undefined, {}, undefined)
      : this.engine.images.importImage(Readable.from(await pauseRootfsTar()), {
          repo: PAUSE_REPO,
          tag: name.slice(PAUSE_REPO.length + 1),
          changes: ['ENTRYPOINT ["/pause", "-P"]'],
          message: `pod infra image from ${CATATONIT}`,
        });
    for await (const msg of messages) {
      if (msg.error) throw systemError(`preparing the pod infra image ${name}: ${msg.error}`);
    }
    this.engine.log(`cri: pod infra image ${name} ready`);
    return name;
  }
}
