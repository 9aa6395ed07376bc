/**
 * systemd socket activation as dockerd's `-H fd://` does it (go-systemd's activation.Listeners):
 * the sockets are fds 3 … 3+LISTEN_FDS-1 when LISTEN_PID is this process; the variables are
 * removed once read so children do not take them for their own. `fd://` means all of them,
 * `fd://N` the one with that number, with dockerd's errors.
 */

export const SD_LISTEN_FDS_START = 3;

let taken: number[] | undefined;

/** The activated fds (read once: the environment is cleared after). */
export function activatedFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  if (taken) return taken;
  const n = Number(env.LISTEN_FDS);
  const forUs = Number(env.LISTEN_PID) === pid;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  taken = forUs && Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i) : [];
  return taken;
}

/** The fds `fd://<addr>` names (addr '' or '*' = all). Throws dockerd's messages. */
export function fdsFor(addr: string, fds: number[]): number[] {
  if (fds.length === 0) throw new Error('no sockets found via socket activation: make sure the service was started by systemd');
  if (addr === '' || addr === '*') return fds;
  if (!/^[+-]?\d+$/.test(addr)) throw new Error(`failed to parse systemd fd address: should be a number: ${addr}`);
  const offset = Number(addr) - SD_LISTEN_FDS_START;
  if (fds.length < offset + 1) throw new Error('too few socket activated files passed in by systemd');
  if (offset < 0) throw new Error(`failed to listen on systemd activated file: fd ${offset + SD_LISTEN_FDS_START}`);
  return [fds[offset]!];
}
