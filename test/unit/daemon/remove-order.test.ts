/**
 * A removal puts its intent on disk before anything of the container goes, as moby checkpoints
 * a container Dead before it removes it: a daemon killed while the layer was half removed then
 * finishes the removal at its next start (restore) instead of bringing back a container whose
 * layer is gone (lifecycle-stress met that: "layer … has no lower layers to mount").
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerStore } from '../../../src/container/store.js';
import type { ContainerRecord } from '../../../src/container/container.js';
import type { ContainerCore } from '../../../src/daemon/containers/core.js';
import { removeLocked } from '../../../src/daemon/containers/remove.js';
import { makeRecord } from '../container/helpers.js';

describe('removeLocked', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** What config.v2.json said of RemovalInProgress when removeLocked removed the layer of `rec`. */
  async function onDiskWhenLayerWent(rec: ContainerRecord): Promise<unknown[]> {
    const dataRoot = await mkdtemp(join(tmpdir(), 'wharf-remove-'));
    dirs.push(dataRoot);
    const store = new ContainerStore(dataRoot, { log: () => {} });
    await store.save(rec);
    const seen: unknown[] = [];
    const noop = () => {};
    const core = {
      records: new Map([[rec.ID, rec]]),
      manager: () => ({ cancel: noop }),
      cancelRestartTimer: () => false,
      netnsReleases: new Map(),
      processEnv: new Map(),
      links: { forget: noop },
      restartManagers: new Map(),
      pendingAttach: new Map(),
      exits: { emit: noop },
      removals: { emit: noop },
      deps: {
        store,
        log: noop,
        settings: { execRoot: join(dataRoot, 'exec') },
        runtime: { delete: async () => {} },
        network: { detach: async () => {} },
        events: { log: noop },
        names: { release: noop },
        layers: {
          removeRWLayer: async (id: string) => {
            const cfg = JSON.parse(await readFile(join(store.dir(id), 'config.v2.json'), 'utf8')) as { State: { RemovalInProgress: boolean } };
            seen.push(cfg.State.RemovalInProgress);
          },
        },
      },
    } as unknown as ContainerCore;
    await removeLocked(core, rec);
    assert.equal(core.records.has(rec.ID), false);
    await assert.rejects(readFile(join(store.dir(rec.ID), 'config.v2.json')), { code: 'ENOENT' });
    return seen;
  }

  it('saves the record marked RemovalInProgress before the layer goes, and removes it after', async () => {
    assert.deepEqual(await onDiskWhenLayerWent(makeRecord({ Name: '/going' })), [true]);
    // Created with --rm but never started: restore would keep it, so the mark is written too.
    assert.deepEqual(await onDiskWhenLayerWent(makeRecord({ Name: '/never-ran', HostConfig: { AutoRemove: true } })), [true]);
  });

  it('writes nothing first for an --rm container that ran: restore removes it whatever its record says', async () => {
    const rec = makeRecord({ Name: '/ran', HostConfig: { AutoRemove: true }, HasBeenStartedBefore: true });
    assert.deepEqual(await onDiskWhenLayerWent(rec), [false]);
  });
});
