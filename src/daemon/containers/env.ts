/** The environment of a container's process (its init and its execs). */
import type { ContainerRecord } from '../../container/container.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment Docker gives the process: PATH, HOSTNAME, TERM with a tty, then Config.Env, HOME if unset. */
export function containerEnv(rec: ContainerRecord, home: string | undefined, linkEnv: string[] = []): string[] {
  const env = new Map<string, string>();
  env.set('PATH', `PATH=${DEFAULT_PATH}`);
  env.set('HOSTNAME', `HOSTNAME=${rec.HostConfig.NetworkMode === 'host' ? '' : rec.Config.Hostname ?? ''}`);
  if (rec.HostConfig.NetworkMode === 'host') env.delete('HOSTNAME');
  if (rec.Config.Tty) env.set('TERM', 'TERM=xterm');
  for (const kv of linkEnv) env.set(kv.split('=', 1)[0]!, kv);
  for (const kv of rec.Config.Env ?? []) {
    const eq = kv.indexOf('=');
    if (eq >= 0) env.set(kv.slice(0, eq), kv);
  }
  if (!env.has('HOME')) env.set('HOME', `HOME=${home || '/'}`);
  return [...env.values()];
}
