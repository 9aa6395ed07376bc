import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheMountStore } from '../../../src/daemon/build-cache-mounts.js';

test('cache mounts: listed with their use, pruned least recently used first, never while mounted', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-cache-mounts-'));
  try {
    const store = new CacheMountStore(join(root, 'caches'));
    const perm = { mode: 0o755, uid: 0, gid: 0 };
    const a = await store.acquire('go-mod', '/go/pkg/mod', perm);
    await writeFile(join(a.dir, 'f'), 'x'.repeat(1000));
    a.release();
    const b = await store.acquire('/root/.cache', '/root/.cache', perm);
    await writeFile(join(b.dir, 'f'), 'y'.repeat(3000));
    const again = await store.acquire('go-mod', '/go/pkg/mod', perm);
    assert.equal(again.dir, a.dir);
    again.release();

    const records = await store.records();
    assert.deepEqual(
      records.map((r) => [r.Description, r.Type, r.InUse, r.UsageCount, r.Size >= 1000]).sort(),
      [
        ['cached mount /go/pkg/mod (id go-mod)', 'exec.cachemount', false, 2, true],
        ['cached mount /root/.cache (id /root/.cache)', 'exec.cachemount', true, 1, true],
      ],
    );
    // In use: kept whatever the filters say.
    assert.deepEqual((await store.prune({ filters: { id: [records.find((r) => r.InUse)!.ID.slice(0, 12)] } })).deleted, []);
    // Used just now: an `until` of an hour keeps it.
    assert.deepEqual((await store.prune({ filters: { until: ['1h'] } })).deleted, []);
    // A filter that is no cache record field (system prune's label=…) is ignored, as by moby: nothing unused yet.
    assert.deepEqual((await store.prune({ filters: { label: ['x'], until: ['1h'] } })).deleted, []);
    b.release();
    // Room for the most recently used one only.
    const first = await store.prune({ filters: {}, keepBytes: 3500 });
    assert.deepEqual(first.deleted.map((r) => r.Description), ['cached mount /root/.cache (id /root/.cache)']);
    const rest = await store.prune({ filters: {} });
    assert.deepEqual(rest.deleted.map((r) => r.Description), ['cached mount /go/pkg/mod (id go-mod)']);
    assert.ok(rest.reclaimed >= 1000);
    assert.deepEqual(await store.records(), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
