/**
 * One-shot notifications per key (a container's exit, its removal): each subscription returns
 * its own unsubscribe, so a waiter whose client went away leaves nothing behind, and `size()`
 * tells how many are waiting (the daemon's state dump shows it).
 */
export class KeyedSignal<T> {
  private readonly waiters = new Map<string, Set<(value: T) => void>>();

  /** Calls `cb` once, at the next emit for `key`; the returned function cancels it. */
  once(key: string, cb: (value: T) => void): () => void {
    let set = this.waiters.get(key);
    if (!set) {
      set = new Set();
      this.waiters.set(key, set);
    }
    const entry = (value: T) => cb(value);
    set.add(entry);
    return () => this.drop(key, entry);
  }

  /** The next emit for `key` as a promise, with its cancel (which leaves the promise pending). */
  next(key: string): { promise: Promise<T>; cancel: () => void } {
    let cancel!: () => void;
    const promise = new Promise<T>((resolve) => (cancel = this.once(key, resolve)));
    return { promise, cancel };
  }

  emit(key: string, value: T): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const cb of set) cb(value);
  }

  /** Waiters registered and not yet called nor cancelled. */
  size(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private drop(key: string, entry: (value: T) => void): void {
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(entry);
    if (set.size === 0) this.waiters.delete(key);
  }
}
