/**
 * Legacy `--link target:alias` on the default bridge, as moby's link index does it: links are
 * registered at create (and again at daemon start) from HostConfig.Links when the container's
 * network mode is not a user-defined network; at start they give the container Docker's link
 * environment variables (ALIAS_PORT…, ALIAS_NAME, ALIAS_ENV_…) and /etc/hosts lines
 * (`ip\talias hostname name`); inspect shows them as `/target:/parent/alias`; `rm --link
 * parent/alias` drops one. As in Docker the index is not persisted: a removed link comes back
 * from HostConfig.Links when the daemon restarts. On user-defined networks links are endpoint
 * aliases answered by the embedded DNS (network/manager.ts), not handled here.
 */
import { posix } from 'node:path';
import type { HostConfig } from '../api/types.js';
import type { ContainerRecord } from '../container/container.js';
import { isRunning } from '../container/state.js';
import { removeHostsLine } from './containers/etc-files.js';
import { invalidParameter, isEngineError, noSuchContainer, systemError } from '../lib/errors.js';

/** opts.ParseLink: `name[:alias]`, or `/name:/parent/alias` as inspect shows it. */
export function parseLink(val: string): { name: string; alias: string } {
  if (val === '') throw systemError('empty string specified for links');
  const parts = val.split(':');
  if (parts.length > 2) throw systemError(`bad format for links: ${val}`);
  const [name = '', alias] = parts;
  if (alias === undefined) return { name: val, alias: val };
  if (name.startsWith('/')) return { name: name.slice(1), alias: posix.basename(alias) };
  return { name, alias };
}

const isUserDefined = (mode: string | undefined) =>
  !!mode && !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');

/** One link of a parent: the alias it uses and the child it names (its name kept for messages once it is gone). */
interface Child {
  id: string;
  name: string;
}

export interface LinkedSetup {
  /** Docker's link variables, to go before the container's own Env. */
  env: string[];
  /** `ip\talias hostname [name]` lines for the parent's /etc/hosts. */
  hosts: string[];
}

export class LegacyLinks {
  /** parent ID -> alias -> child */
  private readonly index = new Map<string, Map<string, Child>>();
  /** parent ID -> alias -> the /etc/hosts line its last start wrote */
  private readonly hostsLines = new Map<string, Map<string, string>>();

  /**
   * Create-time (and restore-time) resolution of HostConfig.Links with Docker's errors; nothing is
   * registered. `get` resolves a reference as the API does (NotFound otherwise).
   */
  resolve(hc: HostConfig, get: (ref: string) => ContainerRecord): Map<string, Child> {
    const out = new Map<string, Child>();
    if (isUserDefined(hc.NetworkMode)) return out;
    for (const l of hc.Links ?? []) {
      const parsed = parseLink(l);
      // moby joins the alias to the parent's name (`db:/mysql` is /parent/mysql) and its hosts
      // line and variables use the last element of that.
      const alias = posix.basename(posix.join('/', parsed.alias));
      const { name } = parsed;
      // The alias becomes a field of /etc/hosts and a variable name: one word.
      if (!/^[^\s\x00-\x1f\x7f/]+$/.test(alias)) throw invalidParameter(`invalid link alias: ${JSON.stringify(parsed.alias)}`);
      let child = this.lookup(name, get);
      const seen = new Set<string>();
      while (child.HostConfig.NetworkMode?.startsWith('container:') && !seen.has(child.ID)) {
        seen.add(child.ID);
        child = this.lookup(child.HostConfig.NetworkMode.slice(10), get);
      }
      if (child.HostConfig.NetworkMode === 'host') {
        throw invalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
      }
      out.set(alias, { id: child.ID, name: child.Name });
    }
    return out;
  }

  private lookup(name: string, get: (ref: string) => ContainerRecord): ContainerRecord {
    try {
      return get(name);
    } catch (err) {
      // Docker's InvalidParameter (not NotFound, which a client would take for a missing image).
      if (isEngineError(err, 'NotFound')) throw invalidParameter(`could not get container for ${name}: ${err.message}`);
      throw err;
    }
  }

  set(parentId: string, children: Map<string, Child>): void {
    if (children.size) this.index.set(parentId, children);
  }

  /** The parent is gone: its links go (links to it stay, failing its parents' next start as in Docker). */
  forget(parentId: string): void {
    this.index.delete(parentId);
    this.hostsLines.delete(parentId);
  }

  /** inspect's HostConfig.Links: `/child:/parent/alias`, or null. */
  inspectLinks(parent: ContainerRecord, records: (id: string) => ContainerRecord | undefined): string[] | null {
    const children = this.index.get(parent.ID);
    if (!children?.size) return null;
    return [...children].map(([alias, c]) => `${records(c.id)?.Name ?? c.name}:${posix.join(parent.Name, alias)}`);
  }

  /** The child a parent's link alias names (its ID), if that link exists. */
  child(parentId: string, alias: string): string | undefined {
    return this.index.get(parentId)?.get(alias)?.id;
  }

  /** The `/parent/alias` names a child is known by through its parents' links (listed by /containers/json). */
  linkNames(childId: string, records: (id: string) => ContainerRecord | undefined): string[] {
    const out: string[] = [];
    for (const [parentId, children] of this.index) {
      const parent = records(parentId);
      if (!parent) continue;
      for (const [alias, c] of children) if (c.id === childId) out.push(posix.join(parent.Name, alias));
    }
    return out;
  }

  /**
   * `DELETE /containers/parent/alias?link=1`. A name without a parent part is the container's own
   * name (Docker's 500 "Conflict, cannot remove the default link name…"); a link that does not
   * exist is Docker's "No such container: <ref>".
   */
  async removeLink(ref: string, get: (ref: string) => ContainerRecord): Promise<void> {
    const full = ref.startsWith('/') ? ref : `/${ref}`;
    const parentName = posix.dirname(full);
    const alias = posix.basename(full);
    if (parentName === '/') {
      get(ref);
      throw systemError('Conflict, cannot remove the default link name of the container');
    }
    let parent: ContainerRecord;
    try {
      parent = get(parentName.slice(1));
    } catch {
      throw noSuchContainer(ref);
    }
    const children = this.index.get(parent.ID);
    if (!children?.delete(alias)) throw noSuchContainer(ref);
    if (!children.size) this.index.delete(parent.ID);
    // A running parent stops resolving the alias at once, as Docker rebuilds its /etc/hosts.
    const line = this.hostsLines.get(parent.ID)?.get(alias);
    this.hostsLines.get(parent.ID)?.delete(alias);
    if (line && isRunning(parent.State) && parent.HostsPath) {
      await removeHostsLine(parent.HostsPath, line);
    }
  }

  /** Containers to start at daemon start, children before the parents that link to them (as Docker). */
  startOrder(recs: ContainerRecord[]): ContainerRecord[] {
    const byId = new Map(recs.map((r) => [r.ID, r]));
    const out: ContainerRecord[] = [];
    const visit = (r: ContainerRecord, path: Set<string>) => {
      if (out.includes(r) || path.has(r.ID)) return;
      path.add(r.ID);
      for (const c of this.index.get(r.ID)?.values() ?? []) {
        const child = byId.get(c.id);
        if (child) visit(child, path);
      }
      out.push(r);
    };
    for (const r of recs) visit(r, new Set());
    return out;
  }

  /**
   * At start of a parent on the default bridge: every child must run and be on the default bridge
   * (Docker's errors); gives the environment and hosts lines, and remembers the lines.
   */
  setup(parent: ContainerRecord, records: (id: string) => ContainerRecord | undefined): LinkedSetup {
    const { env, lines } = this.compute(parent, records);
    this.hostsLines.set(parent.ID, lines);
    return { env, hosts: [...lines.values()] };
  }

  /** The link variables an exec in the parent gets (Docker's exec runs the same checks). */
  env(parent: ContainerRecord, records: (id: string) => ContainerRecord | undefined): string[] {
    return this.compute(parent, records).env;
  }

  private compute(parent: ContainerRecord, records: (id: string) => ContainerRecord | undefined): { env: string[]; lines: Map<string, string> } {
    const env: string[] = [];
    const lines = new Map<string, string>();
    const children = this.index.get(parent.ID);
    if (!children?.size || !parent.NetworkSettings.Networks['bridge']) return { env, lines };
    for (const [alias, c] of children) {
      const child = records(c.id);
      const fullAlias = posix.join(parent.Name, alias);
      if (!child || !isRunning(child.State)) {
        throw systemError(`Cannot link to a non running container: ${child?.Name ?? c.name} AS ${fullAlias}`);
      }
      const bridge = child.NetworkSettings.Networks['bridge'];
      if (!bridge) throw systemError(`Cannot link to ${child.Name}, as it does not belong to the default network`);
      const ip = bridge.IPAddress ?? '';
      env.push(...linkEnv(fullAlias, ip, child.Config.Env ?? [], Object.keys(child.Config.ExposedPorts ?? {})));
      let names = `${alias} ${child.Config.Hostname ?? ''}`;
      if (alias !== child.Name.slice(1)) names += ` ${child.Name.slice(1)}`;
      if (ip) lines.set(alias, `${ip}\t${names}`);
    }
    return { env, lines };
  }
}

interface Port {
  num: number;
  proto: string;
}

/** moby's links.ToEnv: ports sorted TCP first then by number, ranges of consecutive ports summarised. */
export function linkEnv(fullAlias: string, ip: string, childEnv: string[], exposed: string[]): string[] {
  const alias = posix.basename(fullAlias).toUpperCase().replace(/-/g, '_');
  const ports: Port[] = exposed
    .map((k) => {
      const [n = '', proto = 'tcp'] = k.split('/');
      return { num: Number(n), proto };
    })
    .filter((p) => Number.isInteger(p.num));
  ports.sort((a, b) => {
    if (a.proto === b.proto) return a.num - b.num;
    if (a.proto === 'tcp') return -1;
    if (b.proto === 'tcp') return 1;
    return a.proto < b.proto ? -1 : 1;
  });
  const env: string[] = [];
  const prefixOf = (p: Port) => `${alias}_PORT_${p.num}_${p.proto.toUpperCase()}`;
  let start: Port | undefined;
  let end: Port | undefined;
  ports.forEach((p, i) => {
    if (i === 0) {
      start = end = p;
      env.push(`${alias}_PORT=${p.proto}://${ip}:${p.num}`);
    }
    const prefix = prefixOf(p);
    env.push(`${prefix}=${p.proto}://${ip}:${p.num}`, `${prefix}_ADDR=${ip}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (end && p.num === end.num + 1 && p.proto === end.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (start && end && end !== start) {
      const sp = prefixOf(start);
      env.push(`${sp}_START=${start.proto}://${ip}:${start.num}`, `${sp}_PORT_START=${start.num}`);
      env.push(`${sp}_END=${end.proto}://${ip}:${end.num}`, `${sp}_PORT_END=${end.num}`);
    }
    start = end = p;
  });
  env.push(`${alias}_NAME=${fullAlias}`);
  for (const kv of childEnv) {
    const i = kv.indexOf('=');
    if (i < 0) continue;
    const name = kv.slice(0, i);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${kv.slice(i + 1)}`);
  }
  return env;
}
