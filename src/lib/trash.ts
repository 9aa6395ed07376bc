/**
 * Deletes directories off the caller's critical path: `discard` renames a directory into the
 * trash dir (one rename on the same file system, so its path is free at once and nothing that
 * looks it up by name finds it) and removes it afterwards, one at a time so that background
 * deletes never crowd the thread pool that the daemon's requests use. The daemon drains the
 * trash at shutdown and empties it at start (a crash's leftovers). Used for the private
 * directories of a removed container, whose names (its ID, its layer's IDs) are never reused.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

export class Trash {
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(
    readonly dir: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Creates the trash dir and queues the removal of what an earlier daemon left in it. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) this.enqueue(join(this.dir, name));
  }

  /**
   * Takes `path` away from its place now and deletes it later. A path that is not there is fine;
   * one that cannot be renamed here (another file system) is deleted before this returns.
   */
  async discard(path: string): Promise<void> {
    const target = join(this.dir, `${basename(path)}.${process.pid}.${++this.seq}`);
    try {
      await rename(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EXDEV') throw err;
      await rm(path, { recursive: true, force: true });
      return;
    }
    this.enqueue(target);
  }

  /** Resolves once everything discarded so far is deleted. */
  drain(): Promise<void> {
    return this.queue;
  }

  private enqueue(path: string): void {
    this.queue = this.queue.then(async () => {
      await rm(path, { recursive: true, force: true }).catch((err) => this.log(`trash: removing ${path}: ${err}`));
    });
  }
}
