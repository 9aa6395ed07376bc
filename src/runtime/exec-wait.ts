/**
 * Waiting for runc's init to exec the container's process. `runc start` (and its exec fifo, which
 * wharfd opens itself) returns before that exec, and Docker's start answers later than wharfd's:
 * a client that read the logs right after start (docker-py's build tests do) found nothing yet
 * from a process that had not run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStatSync } from './init-signal.js';

/** The command name runc's init process gives itself before it execs the container's process. */
const RUNC_INIT_COMM = 'runc:[2:INIT]';

/** How long start waits at most (the exec comes about a millisecond after the fifo here). */
const EXEC_WAIT_MS = 100;

/** Resolves once init `pid` has exec'd (its command is runc's init's no more), has gone, or `waitMs` has passed. */
export async function untilRuncInitExeced(pid: number, waitMs = EXEC_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  // A turn of the event loop between the first looks, a millisecond between later ones.
  for (let turn = 0; Date.now() < deadline; turn++) {
    const st = readProcStatSync(pid);
    if (!st || st.comm !== RUNC_INIT_COMM) return;
    await (turn < 16 ? new Promise<void>((resolve) => setImmediate(resolve)) : sleep(1));
  }
}
