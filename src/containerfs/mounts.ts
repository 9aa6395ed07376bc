/**
 * The mounts `cp` sees in a container (Docker's openContainerFS): its volumes and binds, and the
 * /etc/hosts, /etc/hostname and /etc/resolv.conf the daemon writes, unless a mount of the user's
 * takes their place. tmpfs mounts are left out, as Docker leaves them out: from the host there is
 * no way into a running container's tmpfs, and a stopped container has none, so cp reads and
 * writes the rootfs beneath them.
 */
import { posix } from 'node:path';
import type { ContainerRecord } from '../container/container.js';
import type { RootMount } from './root.js';

const clean = (p: string) => posix.normalize(posix.join('/', p));

export function rootMounts(rec: ContainerRecord): RootMount[] {
  const tmpfs = new Set(Object.keys(rec.HostConfig.Tmpfs ?? {}).map((d) => clean(d.split(':')[0]!)));
  const out: RootMount[] = [];
  const taken = new Set<string>();
  for (const m of Object.values(rec.MountPoints ?? {})) {
    const dest = clean(m.Destination);
    taken.add(dest);
    if ((m.Type !== 'bind' && m.Type !== 'volume') || !m.Source || tmpfs.has(dest)) continue;
    out.push({ destination: dest, source: m.Source, readOnly: !m.RW });
  }
  const etc: Array<[string, string | undefined]> = [
    ['/etc/resolv.conf', rec.ResolvConfPath],
    ['/etc/hostname', rec.HostnamePath],
    ['/etc/hosts', rec.HostsPath],
  ];
  for (const [dest, source] of etc) {
    if (!source || taken.has(dest) || tmpfs.has(dest)) continue;
    out.push({ destination: dest, source, readOnly: !!rec.HostConfig.ReadonlyRootfs });
  }
  return out;
}
