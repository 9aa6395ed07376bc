import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerSummary, ImageSummary, Volume } from '../../../src/api/types.js';
import { renderDiskUsage, summaryRows } from '../../../src/cli/system-df.js';
import { DiskUsageService } from '../../../src/daemon/disk-usage.js';
import type { LayerStore } from '../../../src/layer/layer-store.js';
import type { DiskUsage } from '../../../src/api/types.js';
import { parseDiskUsageTypes } from '../../../src/api/routes/system.js';

const MB = 1_000_000;

function img(id: string, size: number, tags: string[]): ImageSummary {
  return { Id: id, ParentId: '', RepoTags: tags, RepoDigests: [], Created: 1_700_000_000, Size: size, SharedSize: -1, Labels: {}, Containers: -1 };
}

function ctr(id: string, image: string, state: string, sizeRw: number, volumes: string[] = []): ContainerSummary {
  return {
    Id: id, Names: [`/${id}`], Image: image, ImageID: image, Command: 'sh', Created: 1_700_000_000, State: state, Status: state,
    Ports: [], Labels: {}, SizeRw: sizeRw, SizeRootFs: 0, HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Networks: {} },
    Mounts: volumes.map((v) => ({ Type: 'volume', Name: v, Source: '', Destination: '/d', Driver: 'local', Mode: '', RW: true, Propagation: '' })),
  } as unknown as ContainerSummary;
}

test('DiskUsageService: shared layers, container counts, LayersSize once per layer, volume usage; parts by type', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-df-'));
  try {
    await writeFile(join(dir, 'data'), Buffer.alloc(1234));
    // Images a and b share layer L1 (3 MB); a adds L2 (1 MB), b adds L3 (2 MB).
    const layers = new Map([
      ['L1', { chainId: 'L1', size: 3 * MB, parent: null }],
      ['L2', { chainId: 'L2', size: 1 * MB, parent: 'L1' }],
      ['L3', { chainId: 'L3', size: 2 * MB, parent: 'L1' }],
    ]);
    const chain = async (top: string) => {
      const out = [];
      for (let c: string | null = top; c; c = layers.get(c)!.parent) out.unshift(layers.get(c)!);
      return out;
    };
    const fakeLayers = { chain, list: async () => [...layers.keys()], get: async (c: string) => layers.get(c) ?? null } as unknown as LayerStore;
    const svc = new DiskUsageService({
      layers: fakeLayers,
      images: {
        list: async () => [img('sha256:a', 4 * MB, ['a:latest']), img('sha256:b', 5 * MB, ['b:latest'])],
        resolve: async (ref: string) => ({ topChainId: ref === 'sha256:a' ? 'L2' : 'L3' }),
      },
      containers: { list: async () => [ctr('c1', 'sha256:a', 'running', 100), ctr('c2', 'sha256:a', 'exited', 50, ['v1'])] },
      volumes: {
        list: async () => ({
          Volumes: [
            { Name: 'v1', Driver: 'local', Mountpoint: dir, Labels: null, Options: null, Scope: 'local' },
            { Name: 'v2', Driver: 'local', Mountpoint: join(dir, 'missing'), Labels: null, Options: null, Scope: 'local' },
          ] as Volume[],
          Warnings: null,
        }),
      },
    });
    const du = await svc.usage(null);
    assert.equal(du.LayersSize, 6 * MB);
    assert.deepEqual(du.Images!.map((i) => [i.Id, i.Containers, i.SharedSize]), [['sha256:a', 2, 3 * MB], ['sha256:b', 0, 3 * MB]]);
    assert.equal(du.Containers!.length, 2);
    assert.deepEqual(du.Volumes!.map((v) => [v.Name, v.UsageData]), [['v1', { Size: 1234, RefCount: 1 }], ['v2', { Size: 0, RefCount: 0 }]]);
    assert.deepEqual(du.BuildCache, []);

    const only = await svc.usage(['volume']);
    assert.equal(only.Images, null);
    assert.equal(only.Containers, null);
    assert.equal(only.Volumes!.length, 2);

    const noVolumes = new DiskUsageService({ layers: fakeLayers, images: { list: async () => [], resolve: async () => ({ topChainId: null }) }, containers: { list: async () => [] } });
    assert.deepEqual((await noVolumes.usage(null)).Volumes, []);

    // The summary Docker prints from it.
    assert.deepEqual(
      summaryRows(du).map((r) => [r.Type(), r.TotalCount(), r.Active(), r.Size(), r.Reclaimable()]),
      [
        ['Images', '2', '1', '6MB', '5MB (83%)'],
        ['Containers', '2', '1', '150B', '50B (33%)'],
        ['Local Volumes', '2', '1', '1.234kB', '0B (0%)'],
        ['Build Cache', '0', '0', '0B', '0B'],
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseDiskUsageTypes: API >= 1.42 only; unknown types are invalid', () => {
  assert.equal(parseDiskUsageTypes(['image'], false), null);
  assert.equal(parseDiskUsageTypes([], true), null);
  assert.deepEqual(parseDiskUsageTypes(['image', 'build-cache'], true), ['image', 'build-cache']);
  assert.throws(() => parseDiskUsageTypes(['images'], true), (err: Error & { kind?: string }) => err.message === 'unknown object type: images' && err.kind === 'InvalidParameter');
});

test('renderDiskUsage: the summary table and json rows', () => {
  const du: DiskUsage = { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] };
  assert.equal(
    renderDiskUsage(du, { verbose: false, format: '' }),
    [
      'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
      'Images          0         0         0B        0B',
      'Containers      0         0         0B        0B',
      'Local Volumes   0         0         0B        0B',
      'Build Cache     0         0         0B        0B',
      '',
    ].join('\n'),
  );
  const json = renderDiskUsage(du, { verbose: false, format: 'json' }).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(json[0], { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '0', Type: 'Images' });
});
