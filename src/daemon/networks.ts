/**
 * NetworkBackend over the NetworkManager: the /networks endpoints. Containers are reached through
 * hooks the container service provides, so that connect/disconnect of a stopped container is
 * recorded in its own record (applied at its next start) and that of a running one is applied now.
 */
import type { NetworkBackend } from '../api/backend.js';
import type { EndpointSettings, Filters, NetworkCreateRequest, NetworkResource, NetworkSettings } from '../api/types.js';
import { forbidden, invalidParameter, isEngineError, notFound, systemError } from '../lib/errors.js';
import { listFilter, pruneKeep } from '../network/filters.js';
import { CONFIG_ONLY_ENDPOINT, type NetworkManager } from '../network/manager.js';
import type { NetworkRecord } from '../network/types.js';
import type { EventSink } from './events.js';

/** A container as a connect or disconnect sees it. */
export interface NetworkContainer {
  id: string;
  name: string;
  running: boolean;
  networkMode: string;
  networks: string[];
}

export interface NetworkContainerHooks {
  /**
   * Runs `fn` on the container (name, ID, ID prefix; `No such container: x` when there is none)
   * under its lock, as moby's connect and disconnect hold the container's: never beside its
   * start, exit handling or removal. One whose removal failed (Dead) is moby's 500 "marked for removal".
   */
  exclusive<T>(ref: string, fn: (c: NetworkContainer) => Promise<T>): Promise<T>;
  /**
   * Records a connect (cfg) or disconnect (null) in the container's NetworkingConfig so that its
   * next start attaches accordingly; `settings` is the new NetworkSettings when it is running.
   * Only within exclusive().
   */
  recordEndpoint(id: string, network: string, cfg: EndpointSettings | null, settings?: NetworkSettings): Promise<void>;
  /**
   * A running container's endpoint came or went: the lines of its addresses in /etc/hosts follow,
   * and `embeddedDns` (a user-defined network joined) moves its resolv.conf to the embedded DNS.
   */
  endpointChanged(id: string, change: { add?: string[]; remove?: string[]; embeddedDns?: boolean }): Promise<void>;
}

/** An endpoint's addresses, as /etc/hosts lists them. */
const addressesOf = (s: EndpointSettings | undefined): string[] => [s?.IPAddress, s?.GlobalIPv6Address].filter((a): a is string => !!a);

export class NetworkService implements NetworkBackend {
  constructor(
    private readonly mgr: NetworkManager,
    private readonly containers: NetworkContainerHooks,
    private readonly events?: EventSink,
  ) {}

  private emit(action: string, n: { Id: string; Name: string; Driver: string }, container?: string): void {
    const attrs: Record<string, string> = { name: n.Name, type: n.Driver };
    if (container) attrs.container = container;
    this.events?.log('network', action, { ID: n.Id, Attributes: attrs });
  }

  private endpointsOf(id: string): number {
    return Object.keys(this.mgr.resource(this.mgr.get(id), true).Containers).length;
  }

  async list(filters: Filters, opts: { detailed?: boolean } = {}): Promise<NetworkResource[]> {
    const match = listFilter(filters);
    return this.mgr
      .all()
      .filter((n) => match(n, this.endpointsOf(n.Id)))
      .map((n) => this.mgr.resource(n, opts.detailed ?? false));
  }

  async inspect(ref: string, opts: { verbose: boolean; scope?: string }): Promise<NetworkResource> {
    const n = this.mgr.get(ref);
    if (opts.scope && opts.scope !== 'local') throw notFound(`network ${ref} not found`);
    return this.mgr.resource(n, true);
  }

  async create(body: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const created = await this.mgr.create(body);
    const n = this.mgr.find(created.Id);
    if (n) this.emit('create', n);
    return created;
  }

  async remove(ref: string): Promise<void> {
    const n = this.mgr.find(ref);
    await this.mgr.remove(ref);
    if (n) this.emit('destroy', n);
  }

  async connect(ref: string, container: string, endpointConfig?: EndpointSettings): Promise<void> {
    // moby looks the container up first: both missing answers "No such container".
    await this.containers.exclusive(container, (c) => this.connectLocked(ref, c, endpointConfig));
  }

  private async connectLocked(ref: string, c: NetworkContainer, endpointConfig?: EndpointSettings): Promise<void> {
    const mode = c.networkMode || 'bridge';
    let n: NetworkRecord | undefined;
    try {
      n = this.mgr.get(ref);
    } catch (err) {
      // moby records a stopped container's connect to a network that does not exist (yet): its
      // start then fails on it, or attaches to a network created by that name in the meantime.
      if (c.running || !isEngineError(err, 'NotFound')) throw err;
    }
    if (n && c.running && n.ConfigOnly) throw forbidden(CONFIG_ONLY_ENDPOINT);
    if (mode === 'host' || n?.Driver === 'host') throw forbidden('container cannot be disconnected from host network or connected to host network');
    if (mode === 'none' || (n?.Driver === 'null' && !n.ConfigOnly)) {
      throw forbidden('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    }
    if (mode.startsWith('container:')) throw invalidParameter('container sharing network namespace with another container or host cannot be connected to any other network');
    if (!n) {
      this.mgr.validate({ NetworkMode: ref }, { [ref]: endpointConfig ?? {} });
      await this.containers.recordEndpoint(c.id, ref, endpointConfig ?? {});
      return;
    }
    if (c.running) {
      const ep = await this.mgr.connect(c.id, n.Id, endpointConfig);
      await this.containers.recordEndpoint(c.id, n.Name, endpointConfig ?? {}, this.mgr.settings(c.id));
      await this.containers.endpointChanged(c.id, { add: addressesOf(ep), embeddedDns: n.Name !== 'bridge' });
      this.emit('connect', n, c.id);
    } else {
      this.mgr.validate({ NetworkMode: n.Name }, { [n.Name]: endpointConfig ?? {} });
      await this.containers.recordEndpoint(c.id, n.Name, endpointConfig ?? {});
    }
  }

  async disconnect(ref: string, container: string, _force: boolean): Promise<void> {
    await this.containers.exclusive(container, (c) => this.disconnectLocked(ref, c));
  }

  private async disconnectLocked(ref: string, c: NetworkContainer): Promise<void> {
    const n = this.mgr.get(ref);
    if (n.Driver === 'host') throw forbidden('container cannot be disconnected from host network or connected to host network');
    if (c.running) {
      const left = addressesOf(this.mgr.settings(c.id)?.Networks?.[n.Name]);
      await this.mgr.disconnect(c.id, n.Id);
      await this.containers.recordEndpoint(c.id, n.Name, null, this.mgr.settings(c.id));
      await this.containers.endpointChanged(c.id, { remove: left });
      this.emit('disconnect', n, c.id);
    } else {
      if (!c.networks.some((k) => this.mgr.find(k)?.Id === n.Id)) throw systemError(`container ${c.id} is not connected to network ${n.Name}`);
      await this.containers.recordEndpoint(c.id, n.Name, null);
    }
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] }> {
    const before = new Map(this.mgr.all().map((n) => [n.Id, n]));
    const deleted = await this.mgr.prune(pruneKeep(filters));
    for (const id of deleted) {
      const n = before.get(id);
      if (n) this.emit('destroy', n);
    }
    return { NetworksDeleted: deleted };
  }
}
