/**
 * The daemon's side of the spawn helper (spawn-server.ts): one small child process, forked once
 * while the daemon's heap is still small, that runs the tools lib/run.ts asks for. fork() in a
 * process copies its page tables, so a spawn from the daemon itself blocked its event loop for
 * a time that grew with its heap; the helper's stays small. The helper is started on first use,
 * never keeps the daemon alive, and is started again if it dies (what was pending then fails).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runToolsThrough } from './run.js';
import type { SpawnReply, SpawnRequest } from './spawn-protocol.js';

let helper: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (r: SpawnReply) => void; reject: (e: Error) => void }>();

/**
 * From now on lib/run.ts runs tools through the helper. The daemon calls this at start, so the
 * helper is forked while the daemon is still small.
 */
export function useSpawnHelper(): void {
  runToolsThrough(spawnThroughHelper);
  try {
    ensureHelper();
    keepAliveWhileBusy();
  } catch {
    // Forked again at first use.
  }
}

/** Runs one tool through the helper; rejects only when the helper itself fails. */
function spawnThroughHelper(req: Omit<SpawnRequest, 'id'>): Promise<SpawnReply> {
  return new Promise((resolve, reject) => {
    let h: ChildProcess;
    try {
      h = ensureHelper();
    } catch (err) {
      reject(err as Error);
      return;
    }
    const id = nextId++;
    pending.set(id, { resolve, reject });
    keepAliveWhileBusy();
    h.send({ id, ...req }, (err) => {
      if (!err || !pending.delete(id)) return;
      keepAliveWhileBusy();
      reject(err);
    });
  });
}

function ensureHelper(): ChildProcess {
  if (helper) return helper;
  const child = fork(fileURLToPath(new URL('./spawn-server.js', import.meta.url)), [], {
    // Not the daemon's flags (a profiler, a large heap): the helper should stay small.
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const gone = (why: string) => {
    if (helper !== child) return;
    helper = null;
    const waiting = [...pending.values()];
    pending.clear();
    for (const p of waiting) p.reject(new Error(`the spawn helper ${why}`));
  };
  child.on('error', (e) => gone(`failed: ${e.message}`));
  child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
  child.on('message', (r: SpawnReply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    keepAliveWhileBusy();
    p.resolve(r);
  });
  helper = child;
  return child;
}

/** The helper keeps the daemon's event loop alive only while it has work. */
function keepAliveWhileBusy(): void {
  if (!helper) return;
  if (pending.size) {
    helper.ref();
    helper.channel?.ref();
  } else {
    helper.unref();
    helper.channel?.unref();
  }
}
