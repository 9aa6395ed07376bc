/**
 * Deletes directories off the caller's critical path: `discard` renames a directory into the
 * trash dir (one rename on the same file system, so its path is free at once and nothing that
 * looks it up by name finds it) and removes it afterwards. The deletes run one batch at a time,
 * each batch one `rm -rf` of everything discarded since the last: a node recursive delete is a
 * thread-pool round trip per entry (about 65 µs of the daemon's CPU each, ~130 for a container's
 * dirs), one process is about 2 ms for any number of them, and the thread pool that the daemon's
 * requests use stays free. The daemon drains the
 * trash at shutdown and empties it at start (a crash's leftovers). Used for the private
 * directories of a removed container, whose names (its ID, its layer's IDs) are never reused.
 */
import { renameSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { run } from './run.js';

/** Paths per `rm` process (an argument list well under the kernel's limit). */
const BATCH = 256;
/**
 * How long a batch gathers before its `rm` starts: a removal discards its dirs one rename after
 * another, and a burst of removals (rm -f of many) should cost one process, not one per rename.
 */
const GATHER_MS = 100;

export class Trash {
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;
  /** Discarded, waiting for the next batch (which is queued when this is not empty). */
  private waiting: string[] = [];
  /** Ends the gathering of the batch now (drain). */
  private gathered: (() => void) | undefined;
  private draining = false;

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
      // One metadata call, made at once rather than queued behind the thread pool.
      renameSync(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EXDEV') throw err;
      await rm(path, { recursive: true, force: true });
      return;
    }
    this.enqueue(target);
  }

  /** Resolves once everything discarded so far is deleted (no more gathering from now on). */
  drain(): Promise<void> {
    this.draining = true;
    this.gathered?.();
    return this.queue;
  }

  private enqueue(path: string): void {
    this.waiting.push(path);
    if (this.waiting.length > 1) return;
    this.queue = this.queue
      .then(() => this.gather())
      .then(async () => {
        const paths = this.waiting;
        this.waiting = [];
        for (let i = 0; i < paths.length; i += BATCH) {
          const batch = paths.slice(i, i + BATCH);
          // --one-file-system: a mount left inside a discarded dir is not descended into.
          await run('rm', ['-rf', '--one-file-system', '--', ...batch]).catch((err) => this.log(`trash: removing ${batch.join(' ')}: ${err}`));
        }
      });
  }

  private gather(): Promise<void> {
    if (this.draining) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.gathered?.(), GATHER_MS);
      this.gathered = () => {
        clearTimeout(timer);
        this.gathered = undefined;
        resolve();
      };
    });
  }
}
