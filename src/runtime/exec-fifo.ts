/**
 * What `runc start` does, without starting runc: a created container's init waits, blocked, to
 * open `<runc root>/<id>/exec.fifo` for writing; a reader opening it lets the init write one byte
 * and exec the container's process. runc then removes the fifo, which is how it (and `runc state`)
 * tells "running" from "created". Saves a runc process (a Go binary start, ~10 ms) on every start.
 *
 * The fifo is opened non-blocking and read through libuv's poll, so no thread waits on it. An
 * EOF with no byte means no writer: either the init has not opened its end yet (runc create
 * returns slightly before it does) or it is dead, which the init's pid tells apart.
 */
import { constants as fsc, open } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from './init-signal.js';

/** Reads the fifo once: the bytes written, '' when no writer had it open. */
async function readOnce(path: string): Promise<string> {
  // A plain descriptor (not a FileHandle, which would close it again when collected): the socket owns it.
  const fd = await new Promise<number>((resolve, reject) => open(path, fsc.O_RDONLY | fsc.O_NONBLOCK, (err, n) => (err ? reject(err) : resolve(n))));
  const sock = new Socket({ fd, readable: true, writable: false });
  let data = '';
  try {
    await new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
      sock.on('end', resolve);
      sock.on('error', reject);
    });
  } finally {
    sock.destroy(); // closes the descriptor
  }
  return data;
}

/** True while `pid` exists and is not a zombie. */
async function alive(pid: number): Promise<boolean> {
  const st = await readProcStat(pid);
  return !!st && st.state !== 'Z';
}

/**
 * Lets the created container `id` (init `pid`) run, as `runc start` does. Throws when it cannot
 * start (its init died, or it was started already), with runc's words.
 */
export async function startThroughExecFifo(runcRoot: string, id: string, pid: number, timeoutMs = 10_000): Promise<void> {
  const fifo = join(runcRoot, id, 'exec.fifo');
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    let data: string;
    try {
      data = await readOnce(fifo);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('cannot start an already running container');
      throw err;
    }
    if (data.length > 0) break;
    if (!(await alive(pid))) throw new Error('container process is already dead');
    if (Date.now() > deadline) throw new Error('timeout waiting for the container process to wait on its exec fifo');
    await sleep(delay);
  }
  await unlink(fifo);
}
