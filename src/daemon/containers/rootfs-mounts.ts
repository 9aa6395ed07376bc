/**
 * A container's rootfs mount, shared by reference count: the lifecycle holds one reference from
 * start to exit, and each archive, export or extract holds one until its client is done (or
 * gone). So a stream that a slow client reads never holds the container's lock, and exit
 * handling, stop and rm go on while it lasts; the last release unmounts.
 */
import { KeyedMutex } from '../../lib/mutex.js';

export interface RWMounter {
  /** Mounts (idempotent) and returns the merged path. */
  mountRW(containerId: string, opts?: { volatile?: boolean }): Promise<string>;
  unmountRW(containerId: string): Promise<void>;
}

export class RootfsMounts {
  private readonly refs = new Map<string, number>();
  private readonly lock = new KeyedMutex();

  constructor(private readonly layers: RWMounter) {}

  /**
   * Mounts the rootfs if needed and takes a reference; returns the merged path. `volatile` (an
   * --rm container's start) applies when this reference mounts it.
   */
  acquire(id: string, opts: { volatile?: boolean } = {}): Promise<string> {
    return this.lock.run(id, async () => {
      const path = await this.layers.mountRW(id, opts);
      this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
      return path;
    });
  }

  /**
   * Drops a reference; the last one unmounts. A release without a reference (a container found
   * mounted at daemon start, whose exit is handled then) unmounts too.
   */
  release(id: string): Promise<void> {
    return this.lock.run(id, async () => {
      const n = (this.refs.get(id) ?? 0) - 1;
      if (n > 0) {
        this.refs.set(id, n);
        return;
      }
      this.refs.delete(id);
      await this.layers.unmountRW(id);
    });
  }

  /** References held on `id` (0 when unmounted by this daemon). */
  count(id: string): number {
    return this.refs.get(id) ?? 0;
  }
}
