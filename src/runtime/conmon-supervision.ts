/**
 * Notices that a container's conmon died (killed, crashed) while the container may still run:
 * without its supervisor nobody would write the exit file, and the container would show Up
 * forever. conmon keeps the sync socket it was started with (fd 3) open for its whole life, so
 * the daemon keeps its end and sees EOF the moment conmon is gone: no polling, no pid reuse
 * question. A conmon started by an earlier daemon has no such socket left; those (only those)
 * are polled by pid once a second, checked against conmon's command line.
 */
import { readFile } from 'node:fs/promises';

const POLL_MS = 1000;

interface Closable {
  once(event: 'close', cb: () => void): unknown;
  on(event: 'data' | 'error', cb: (arg: never) => void): unknown;
  unref?: () => void;
  destroy(): void;
}

export class SupervisorWatch {
  private readonly sockets = new Map<string, Closable>();
  private readonly polled = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private closed = false;

  /** `gone(id)` is called once when conmon of `id` is no longer there. */
  constructor(private readonly gone: (id: string) => void) {}

  /** Watches the daemon's end of conmon's sync socket (kept open after conmon's report). */
  watchSocket(id: string, sock: Closable): void {
    this.forget(id);
    this.sockets.set(id, sock);
    sock.on('data', () => {}); // conmon may write more reports: read and ignore them
    sock.on('error', () => {});
    sock.once('close', () => {
      if (this.sockets.get(id) !== sock) return;
      this.sockets.delete(id);
      if (!this.closed) this.gone(id);
    });
    sock.unref?.(); // never keeps the daemon alive
  }

  /** Polls conmon `pid` of a container found running at daemon start. */
  watchPid(id: string, pid: number): void {
    if (this.sockets.has(id)) return;
    this.polled.set(id, pid);
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  /**
   * Stops watching `id` for a death (its container is being deleted on purpose) and resolves
   * when its conmon is gone (the socket's EOF), or at once when there is no socket to tell.
   * Waiting on the EOF saves polling /proc for a conmon that exits a few ms after the init.
   */
  release(id: string): Promise<void> | undefined {
    const sock = this.sockets.get(id);
    this.sockets.delete(id); // its close handler now calls no gone()
    this.polled.delete(id);
    if (!sock) return undefined;
    return new Promise((resolve) => sock.once('close', () => resolve()));
  }

  /** Stops watching `id` (its container is being deleted on purpose). */
  forget(id: string): void {
    const sock = this.sockets.get(id);
    this.sockets.delete(id);
    sock?.destroy();
    this.polled.delete(id);
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.sockets.keys()]) this.forget(id);
    this.polled.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    for (const [id, pid] of [...this.polled]) {
      if (await isConmonOf(pid, id)) continue;
      if (this.polled.get(id) !== pid) continue;
      this.polled.delete(id);
      if (!this.closed) this.gone(id);
    }
    if (this.polled.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** The process is a live conmon for this container (not a zombie, not a reused pid). */
export async function isConmonOf(pid: number, id: string): Promise<boolean> {
  if (!(pid > 0)) return false;
  const [cmdline, stat] = await Promise.all([
    readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
    readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
  ]);
  if (!stat || /\) Z /.test(stat)) return false;
  return cmdline.includes('conmon') && cmdline.split('\0').includes(id);
}
