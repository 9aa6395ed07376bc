/**
 * POST /containers/{id}/attach and /resize. An attach to a container that is not running yet
 * waits (PendingAttach) and joins at its next start, between runtime create and start.
 */
import type { AttachOptions, AttachSession } from '../../api/backend.js';
import { readLogs } from '../../container/log-reader.js';
import { hasProcess } from '../../container/state.js';
import { conflict } from '../../lib/errors.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, pipeAttach, writeWithRoom } from '../attach-session.js';
import type { ContainerCore, PendingAttach } from './core.js';
import { containerActor } from './events.js';
import { followControl } from './logs.js';

export async function attachContainer(c: ContainerCore, ref: string, opts: AttachOptions): Promise<AttachSession> {
  const rec = c.get(ref);
  const detachKeys = opts.detachKeys ? parseDetachKeys(opts.detachKeys) : DEFAULT_DETACH_KEYS;
  c.deps.events.log('container', 'attach', containerActor(rec));
  const tty = !!rec.Config.Tty;
  return {
    tty,
    run: async (io) => {
      if (opts.logs) {
        const logs = await readLogs(rec.LogPath, { follow: false, stdout: opts.stdout, stderr: opts.stderr, timestamps: false }, followControl(c, rec));
        for await (const e of logs.entries) await writeWithRoom(e.stream === 'stderr' && !tty ? io.stderr : io.stdout, e.data);
      }
      if (!opts.stream) return;
      const pipeOpts = {
        tty,
        stdinOnce: !!rec.Config.StdinOnce,
        detachKeys,
        wantStdout: opts.stdout,
        wantStderr: opts.stderr,
      };
      const stdin = opts.stdin ? io.stdin : null;
      if (hasProcess(rec.State)) {
        const stream = await c.deps.runtime.attach(rec.ID);
        await pipeAttach(stream, { ...io, stdin }, pipeOpts);
        return;
      }
      // Not running yet: join at the next start, between runtime create and start, so no output is
      // missed. Removal cancels it (removeLocked); a client that goes away drops it.
      await new Promise<void>((resolve) => {
        const set = c.pendingAttach.get(rec.ID) ?? new Set<PendingAttach>();
        c.pendingAttach.set(rec.ID, set);
        const leave = () => {
          set.delete(entry);
          if (set.size === 0 && c.pendingAttach.get(rec.ID) === set) c.pendingAttach.delete(rec.ID);
          io.stdout.off('close', entry.cancel);
        };
        const entry: PendingAttach = {
          connect: async () => {
            leave();
            try {
              const stream = await c.deps.runtime.attach(rec.ID);
              void pipeAttach(stream, { ...io, stdin }, pipeOpts).then(() => resolve());
            } catch (err) {
              resolve();
              throw err;
            }
          },
          cancel: () => {
            leave();
            resolve();
          },
        };
        set.add(entry);
        io.stdout.once('close', entry.cancel);
      });
    },
  };
}

/** Joins the attaches waiting for this start (between runtime create and start). */
export async function connectPendingAttaches(c: ContainerCore, id: string): Promise<void> {
  const set = c.pendingAttach.get(id);
  if (!set?.size) return;
  await Promise.all([...set].map((p) => p.connect().catch((err) => c.deps.log(`attach ${id}: ${err}`))));
}

/** The start failed or the container is gone: the waiting attaches end. */
export function failPendingAttaches(c: ContainerCore, id: string): void {
  const set = c.pendingAttach.get(id);
  if (!set) return;
  for (const p of [...set]) p.cancel();
  c.pendingAttach.delete(id);
}

export async function resizeContainer(c: ContainerCore, ref: string, height: number, width: number): Promise<void> {
  const rec = c.get(ref);
  if (!hasProcess(rec.State)) throw conflict(`cannot resize a stopped container: container ${rec.ID} is not running`);
  await c.deps.runtime.resize(rec.ID, height, width);
  c.deps.events.log('container', 'resize', containerActor(rec, { height: String(height), width: String(width) }));
}
