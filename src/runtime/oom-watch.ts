/**
 * OOMs of a running container, as they happen. conmon creates `oom` in its working directory (the
 * container's bundle) at each OOM of the container's cgroup (cgroup v1's memory.oom_control
 * event, v2's memory.events); when the file is already there it only opens it. Each running
 * container's bundle is watched for it, and the file is moved aside to `oom-seen`, so that the
 * next OOM makes it again: one report per OOM while the container runs, as containerd's TaskOOM
 * events give dockerd (a process killed by the OOM killer, or one that waits with
 * --oom-kill-disable, and the container runs on). Either name at exit means it was OOM-killed.
 */
import { rename, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { pathExists } from '../lib/path-exists.js';

const OOM = 'oom';
const SEEN = 'oom-seen';

export class OomWatch {
  private readonly watchers = new Map<string, FSWatcher>();

  /** `report(id)` is called once for each OOM of `id` noticed while it is watched. */
  constructor(private readonly report: (id: string) => void) {}

  /**
   * Watches the bundle of a container that runs (or is about to). `restored`: a container found
   * running at daemon start, whose OOM while the daemon was away is reported now; a new bundle
   * has none to look for.
   */
  watch(id: string, bundleDir: string, restored = false): void {
    this.forget(id);
    let w: FSWatcher;
    try {
      w = watch(bundleDir, (_event, name) => {
        if (name?.toString() === OOM) this.notice(id, bundleDir, w);
      });
    } catch {
      return; // the bundle is gone: the container too
    }
    w.on('error', () => {});
    w.unref();
    this.watchers.set(id, w);
    if (restored) this.notice(id, bundleDir, w);
  }

  /** Moving the file aside decides who reports it: the rename's own events find nothing left to move. */
  private notice(id: string, bundleDir: string, w: FSWatcher): void {
    rename(join(bundleDir, OOM), join(bundleDir, SEEN), (err) => {
      if (!err && this.watchers.get(id) === w) this.report(id);
    });
  }

  forget(id: string): void {
    this.watchers.get(id)?.close();
    this.watchers.delete(id);
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

/** Whether the container in `bundleDir` met an OOM during its run (reported or not). */
export async function hadOom(bundleDir: string): Promise<boolean> {
  return (await pathExists(join(bundleDir, OOM))) || pathExists(join(bundleDir, SEEN));
}
