/** The environment of a container's process (its init and its execs). */
import { hostname as osHostname } from 'node:os';
import type { ContainerRecord } from '../../container/container.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment Docker gives the process: PATH, HOSTNAME, TERM with a tty, then Config.Env, HOME
 * if unset; `processEnv` (`K=v`, never in the record) over all of them.
 */
export function containerEnv(rec: ContainerRecord, home: string | undefined, linkEnv: string[] = [], processEnv: string[] = []): string[] {
  const env = new Map<string, string>();
  env.set('PATH', `PATH=${DEFAULT_PATH}`);
  // Records created before create filled in the host's name for the host network have none.
  env.set('HOSTNAME', `HOSTNAME=${rec.Config.Hostname || (rec.HostConfig.NetworkMode === 'host' ? osHostname() : '')}`);
  if (rec.Config.Tty) env.set('TERM', 'TERM=xterm');
  for (const kv of linkEnv) env.set(kv.split('=', 1)[0]!, kv);
  for (const kv of rec.Config.Env ?? []) {
    const eq = kv.indexOf('=');
    if (eq >= 0) env.set(kv.slice(0, eq), kv);
    // A name without a value unsets it (moby's ReplaceOrAppendEnvValues): `-e HOSTNAME` with no
    // HOSTNAME in the client's environment removes the daemon's.
    else env.delete(kv);
  }
  if (!env.has('HOME')) env.set('HOME', `HOME=${home || '/'}`);
  for (const kv of processEnv) env.set(kv.split('=', 1)[0]!, kv);
  return [...env.values()];
}
