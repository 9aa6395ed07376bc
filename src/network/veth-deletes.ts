/**
 * Host veths of detached containers being deleted. Deleting a veth takes the kernel 10-30 ms
 * (RTM_DELLINK waits for RCU grace periods while it unregisters both ends), and a container
 * that exited needs none of that before it is reported stopped or removed: the detach hands the
 * deletion here and returns, so it no longer lies between a `run --rm` container's exit and its
 * client seeing it removed. What stays exact:
 * - the endpoint's addresses stay leased until its veth is gone (`then` runs after the delete),
 *   and whoever allocates on a network or removes it first waits for that network's deletes, so
 *   no address is handed out while its old interface still answers on the bridge, and the next
 *   container gets the address it would have got anyway;
 * - a `docker rm` answers once the container's veths are gone (`settledFor`), as before.
 */
export class PendingVethDeletes {
  private readonly pending = new Set<{ networkId: string; containerId: string; done: Promise<void> }>();

  /** Runs `remove` (which must not reject) for a container's endpoint on `networkId`, then `then`. */
  add(networkId: string, containerId: string, remove: () => Promise<void>, then: () => void): void {
    const entry = { networkId, containerId, done: Promise.resolve() };
    entry.done = remove()
      .finally(then)
      .finally(() => void this.pending.delete(entry));
    this.pending.add(entry);
  }

  /** Resolves once the deletes on these networks (all networks when omitted) are done. */
  async settled(networkIds?: Iterable<string>): Promise<void> {
    const ids = networkIds ? new Set(networkIds) : undefined;
    await this.wait((e) => !ids || ids.has(e.networkId));
  }

  /** Resolves once the container's veths are gone. */
  async settledFor(containerId: string): Promise<void> {
    await this.wait((e) => e.containerId === containerId);
  }

  private async wait(which: (e: { networkId: string; containerId: string }) => boolean): Promise<void> {
    const waits = [...this.pending].filter(which).map((e) => e.done.catch(() => {}));
    if (waits.length) await Promise.all(waits);
  }
}
