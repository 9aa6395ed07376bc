/**
 * A unix socket that carries each connection to one of the build client's ssh agents: what a
 * RUN's ssh mount binds into its step, and what git is given as SSH_AUTH_SOCK for ADD of a
 * repository over ssh (BuildKit's git source uses the client's `default` agent so).
 */
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A listening socket owned and moded as given, in a directory of its own under the host's
 * temporary directory (as BuildKit's: a unix socket's path must stay short), each connection
 * handed to `onConnection`. Closing it ends the connections still open.
 */
export async function listenSsh(m: { uid: number; gid: number; mode: number }, onConnection: (conn: Socket) => void): Promise<{ path: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), '.wharf-ssh-'));
  const path = join(dir, 'ssh_auth_sock');
  const open = new Set<Socket>();
  // Half-open: an agent's client may shut its writing side and still read the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (conn) => {
    open.add(conn);
    conn.once('close', () => open.delete(conn));
    onConnection(conn);
  });
  const close = async () => {
    for (const c of open) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await chmod(dir, 0o711);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    server.on('error', () => {});
    await chown(path, m.uid, m.gid);
    await chmod(path, m.mode);
    return { path, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
