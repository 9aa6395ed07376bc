/** POST /containers/{id}/wait: not-running, next-exit, removed. */
import type { WaitCondition, WaitHandle } from '../../api/backend.js';
import type { WaitResponse } from '../../api/types.js';
import { isRunning } from '../../container/state.js';
import { invalidParameter } from '../../lib/errors.js';
import type { ContainerCore } from './core.js';

export async function waitContainer(c: ContainerCore, ref: string, condition: WaitCondition): Promise<WaitHandle> {
  const rec = c.get(ref);
  const handle = (w: { promise: Promise<WaitResponse>; cancel: () => void }): WaitHandle => ({ result: w.promise, cancel: w.cancel });
  const current = (): WaitResponse => ({ StatusCode: rec.State.ExitCode, Error: null });
  switch (condition) {
    case 'not-running':
      // As moby's State.Wait, which takes the lock a start holds: a start under way ends first.
      await c.startSettled(rec);
      if (!isRunning(rec.State)) return { result: Promise.resolve(current()), cancel: () => {} };
      return handle(c.exits.next(rec.ID));
    case 'next-exit':
      return handle(c.exits.next(rec.ID));
    case 'removed':
      return handle(c.removals.next(rec.ID));
    default:
      throw invalidParameter(`invalid condition: "${condition as string}"`);
  }
}
