/**
 * The spawn helper's body (started by spawner.ts with an IPC channel): runs each requested tool to
 * completion and answers with its exit status and output. It exists because fork() copies the
 * page tables of the process that spawns: in the daemon, whose heap is large, every spawn stalled
 * the event loop for milliseconds (10 ms at 118 MB RSS here); this process stays small.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { runToCompletion } from './run.js';
import type { SpawnPipe, SpawnReply, SpawnRequest } from './spawn-protocol.js';

if (!process.send) throw new Error('spawn-server.js runs with an IPC channel');

const reply = (r: SpawnReply) => {
  // The daemon is gone: nothing to answer.
  if (process.connected) process.send!(r);
};

/** Starts a long-lived process and hands its pipes' ends to the daemon. */
function startDetached(q: SpawnRequest, d: NonNullable<SpawnRequest['detached']>): void {
  let child;
  try {
    child = spawn(q.file, q.args, {
      cwd: q.cwd,
      env: d.env,
      detached: true,
      stdio: ['ignore', 'ignore', ...Array.from({ length: d.pipes }, () => 'pipe' as const)],
    });
  } catch (e) {
    // Refused before any fork (a NUL byte in an argument): that request's error, not this process's end.
    reply({ id: q.id, code: null, spawnError: { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message } });
    return;
  }
  // Node starts reading a pipe as soon as it wraps it; whatever it read here before the handle
  // is sent would be dropped. Stopped now, in the tick of the spawn, before any read can happen,
  // the bytes wait in the kernel for the daemon's end.
  for (let i = 0; i < d.pipes; i++) (child.stdio[2 + i] as Socket & { _handle?: { readStop(): number } } | null)?._handle?.readStop();
  child.on('error', (e: NodeJS.ErrnoException) => reply({ id: q.id, code: null, spawnError: { code: e.code, message: e.message } }));
  child.on('spawn', () => {
    reply({ id: q.id, code: null, pid: child.pid });
    for (let i = 0; i < d.pipes; i++) {
      const end = child.stdio[2 + i] as Socket;
      const m: SpawnPipe = { id: q.id, fd: 2 + i };
      // Sent, then closed here: the daemon holds the only parent end.
      if (process.connected) process.send!(m, end);
      else end.destroy();
    }
    child.unref();
  });
}

function runOne(q: SpawnRequest): void {
  if (q.detached) {
    startDetached(q, q.detached);
    return;
  }
  // A promise settles once: 'error' and 'close' of one child never answer twice.
  void runToCompletion(q).then((r) => reply({ ...r, id: q.id }));
}

process.on('message', (m: SpawnRequest) => runOne(m));
// The daemon went away: finish what runs (its tools must not be cut half-way), then end.
process.on('disconnect', () => {
  process.exitCode = 0;
});
