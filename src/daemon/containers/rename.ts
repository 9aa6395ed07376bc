/** POST /containers/{id}/rename. */
import { EngineError, invalidParameter, isEngineError, noSuchContainer } from '../../lib/errors.js';
import type { ContainerCore } from './core.js';
import { containerActor } from './events.js';

export async function renameContainer(c: ContainerCore, ref: string, newName: string): Promise<void> {
  const rec = c.get(ref);
  const name = newName.replace(/^\//, '');
  if (!name) throw invalidParameter('Neither old nor new names may be empty');
  await c.lock.run(rec.ID, async () => {
    // Removed while this waited for the lock: its name must not be taken for it again.
    if (c.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
    // Under the lock: a rename to this name that was waiting for it has made it the current name
    // (and releasing the "old" one would leave the container with none).
    if ('/' + name === rec.Name) throw invalidParameter('Renaming a container with the same name as its current name');
    const old = rec.Name.slice(1);
    try {
      // With its slash, as moby reserves it: an invalid name's message shows `(/bad name)`.
      c.deps.names.reserve('/' + name, rec.ID);
    } catch (err) {
      if (isEngineError(err)) throw new EngineError(err.kind, `Error when allocating new name: ${err.message}`);
      throw err;
    }
    rec.Name = '/' + name;
    const before = rec.NetworkSettings;
    try {
      // A running container's endpoints answer to the new name, and its DNSNames say so (Docker 28).
      const settings = await c.deps.network.rename(rec.ID, name);
      if (settings) rec.NetworkSettings = settings;
      await c.deps.store.save(rec);
    } catch (err) {
      rec.Name = '/' + old;
      rec.NetworkSettings = before;
      await c.deps.network.rename(rec.ID, old).catch((undoErr) => c.deps.log(`network rename back ${rec.ID}: ${undoErr}`));
      c.deps.names.release(name, rec.ID);
      throw err;
    }
    c.deps.names.release(old, rec.ID);
    c.deps.events.log('container', 'rename', containerActor(rec, { oldName: '/' + old }));
  });
}
