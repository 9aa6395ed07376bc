/**
 * The daemon's side of the spawn helper (spawn-server.ts): one small child process, forked once
 * while the daemon's heap is still small, that runs the tools lib/run.ts asks for. fork() in a
 * process copies its page tables, so a spawn from the daemon itself blocked its event loop for
 * a time that grew with its heap; the helper's stays small. The helper is started on first use,
 * never keeps the daemon alive, and is started again if it dies (what was pending then fails).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runToolsThrough } from './run.js';
import type { SpawnPipe, SpawnReply, SpawnRequest } from './spawn-protocol.js';

let inUse = false;
let helper: ChildProcess | null = null;
let nextId = 1;
interface Pending {
  /** Returns true when the request is complete. */
  onMessage: (m: SpawnReply | SpawnPipe, handle: unknown) => boolean;
  reject: (e: Error) => void;
}
const pending = new Map<number, Pending>();

/**
 * From now on lib/run.ts runs tools through the helper. The daemon calls this at start, so the
 * helper is forked while the daemon is still small.
 */
export function useSpawnHelper(): void {
  inUse = true;
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
    request(req, {
      reject,
      onMessage: (m) => {
        resolve(m as SpawnReply);
        return true;
      },
    });
  });
}

export interface StartedWithPipes {
  pid: number;
  /** The parent ends of the child's descriptors 2, 3, … */
  pipes: Socket[];
}

/**
 * Starts a long-lived, detached process with stdin and stdout on /dev/null and `pipes` pipes from
 * its fd 2 on (conmon: stderr and its sync pipe): through the helper when the daemon uses one,
 * else spawned here. It is never waited for; the pipes tell when it is done.
 */
export function startWithPipes(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; pipes: number }): Promise<StartedWithPipes> {
  if (!inUse) {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'ignore', ...Array.from({ length: opts.pipes }, () => 'pipe' as const)] });
      child.on('error', reject);
      child.on('spawn', () => {
        child.unref();
        resolve({ pid: child.pid!, pipes: child.stdio.slice(2) as Socket[] });
      });
    });
  }
  return new Promise((resolve, reject) => {
    let pid: number | undefined;
    const got = new Map<number, Socket>();
    const fail = (e: Error) => {
      for (const p of got.values()) p.destroy();
      reject(e);
    };
    request(
      { file, args, cwd: opts.cwd, detached: { pipes: opts.pipes, env: opts.env } },
      {
        reject: fail,
        onMessage: (m, handle) => {
          if ('fd' in m) got.set(m.fd, handle as Socket);
          else if (m.spawnError) {
            const e = new Error(m.spawnError.message) as NodeJS.ErrnoException;
            e.code = m.spawnError.code;
            fail(e);
            return true;
          } else pid = m.pid;
          if (pid === undefined || got.size < opts.pipes) return false;
          resolve({ pid, pipes: Array.from({ length: opts.pipes }, (_, i) => got.get(2 + i)!) });
          return true;
        },
      },
    );
  });
}

function request(req: Omit<SpawnRequest, 'id'>, p: Pending): void {
  let h: ChildProcess;
  try {
    h = ensureHelper();
  } catch (err) {
    p.reject(err as Error);
    return;
  }
  const id = nextId++;
  pending.set(id, p);
  keepAliveWhileBusy();
  h.send({ id, ...req }, (err) => {
    if (!err || !pending.delete(id)) return;
    keepAliveWhileBusy();
    p.reject(err);
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
  child.on('message', (m: SpawnReply | SpawnPipe, handle: unknown) => {
    const p = pending.get(m.id);
    if (!p) {
      (handle as Socket | undefined)?.destroy();
      return;
    }
    if (!p.onMessage(m, handle)) return;
    pending.delete(m.id);
    keepAliveWhileBusy();
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
