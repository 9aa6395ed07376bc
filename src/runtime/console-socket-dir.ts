/**
 * Where the conmon of a terminal (a container's or an exec session's) makes its console socket.
 * conmon makes it in TMPDIR
 * (`conmon-term.XXXXXX`, /tmp by default) and removes it once runc has connected; when runc fails
 * before connecting (a spec it refuses at once, such as an unknown rlimit; an exec into a container
 * that is exiting), conmon exits and the socket file stays: one in the host's /tmp per failed
 * start. A directory of the container's or session's own in the exec root, removed with the
 * container or when the session ends (conmon may accept runc's connection only after it reported
 * the start), keeps that inside the daemon's own tree. A unix socket's path holds at most 107 bytes
 * and conmon cuts a longer one, so the directory is short (`<exec-root>/t/<first 12 of the id>`);
 * an exec root too long for that keeps TMPDIR unset.
 */
import { join } from 'node:path';

const SOCKET_NAME = 'conmon-term.XXXXXX';
const SUN_PATH_MAX = 107;

export function consoleSocketDir(execRoot: string, id: string): string | undefined {
  const dir = join(execRoot, 't', id.slice(0, 12));
  return dir.length + 1 + SOCKET_NAME.length <= SUN_PATH_MAX ? dir : undefined;
}
