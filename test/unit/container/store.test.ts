import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerStore } from '../../../src/container/store.js';
import { makeRecord } from './helpers.js';

describe('container store', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function root(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'wharf-store-'));
    dirs.push(d);
    return d;
  }

  it('rewrites hostconfig.json only when it changes, also after a load', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(dataRoot);
    const rec = makeRecord({ Name: '/hc', HostConfig: { Memory: 1024 } });
    const ino = async (f: string) => (await stat(join(store.dir(rec.ID), f))).ino;
    await store.save(rec);
    const hc1 = await ino('hostconfig.json');
    const cfg1 = await ino('config.v2.json');
    rec.State.Running = true;
    await store.save(rec);
    assert.equal(await ino('hostconfig.json'), hc1, 'same HostConfig: not written again');
    assert.notEqual(await ino('config.v2.json'), cfg1);
    rec.HostConfig.Memory = 2048;
    await store.save(rec);
    assert.deepEqual(JSON.parse(await readFile(join(store.dir(rec.ID), 'hostconfig.json'), 'utf8')), { Memory: 2048 });
    const hc2 = await ino('hostconfig.json');
    assert.notEqual(hc2, hc1);

    const again = new ContainerStore(dataRoot, { log: () => {} });
    const [loaded] = await again.load();
    assert.ok(loaded);
    await again.save(loaded);
    assert.equal(await ino('hostconfig.json'), hc2, 'as loaded: not written again');
    loaded.HostConfig.Memory = 4096;
    await again.save(loaded);
    assert.deepEqual(JSON.parse(await readFile(join(store.dir(rec.ID), 'hostconfig.json'), 'utf8')), { Memory: 4096 });
  });

  it('saves config.v2.json without HostConfig and hostconfig.json, and loads them back', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(dataRoot);
    const rec = makeRecord({ Name: '/web', HostConfig: { NetworkMode: 'host', Memory: 1024 } });
    await store.save(rec);
    assert.equal(store.dir(rec.ID), join(dataRoot, 'containers', rec.ID));
    const cfg = JSON.parse(await readFile(join(store.dir(rec.ID), 'config.v2.json'), 'utf8'));
    assert.equal(cfg.ID, rec.ID);
    assert.equal('HostConfig' in cfg, false);
    assert.deepEqual(JSON.parse(await readFile(join(store.dir(rec.ID), 'hostconfig.json'), 'utf8')), { NetworkMode: 'host', Memory: 1024 });
    assert.deepEqual((await readdir(store.dir(rec.ID))).sort(), ['config.v2.json', 'hostconfig.json'], 'no temp files left');
    assert.equal(store.get(rec.ID), rec);

    const again = new ContainerStore(dataRoot, { log: () => {} });
    const loaded = await again.load();
    assert.equal(loaded.length, 1);
    assert.deepEqual(loaded[0], rec);
    assert.equal(again.names.resolve('web'), rec.ID);
    assert.equal(again.names.resolve(rec.ID.slice(0, 5)), rec.ID);
    assert.deepEqual(again.all().map((r) => r.ID), [rec.ID]);
  });

  it('keeps the last of several concurrent saves', async () => {
    const store = new ContainerStore(await root());
    const rec = makeRecord();
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      rec.RestartCount = i;
      saves.push(store.save(rec));
    }
    await Promise.all(saves);
    const cfg = JSON.parse(await readFile(join(store.dir(rec.ID), 'config.v2.json'), 'utf8'));
    assert.equal(cfg.RestartCount, 19);
  });

  it('skips and logs broken directories at load', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(dataRoot);
    const good = makeRecord({ Name: '/good' });
    await store.save(good);
    const containers = join(dataRoot, 'containers');
    const broken = 'b'.repeat(64);
    await mkdir(join(containers, broken));
    await writeFile(join(containers, broken, 'config.v2.json'), '{"ID": "bbb", trunc');
    const empty = 'c'.repeat(64);
    await mkdir(join(containers, empty));
    const moved = 'd'.repeat(64);
    await mkdir(join(containers, moved));
    await writeFile(join(containers, moved, 'config.v2.json'), JSON.stringify({ ...good, HostConfig: undefined }));
    await mkdir(join(containers, 'not-an-id'));
    // hostconfig.json missing is tolerated (defaults to {}), and old records get defaults.
    const bare = makeRecord({ Name: '/bare' });
    const { HostConfig: _hc, RestartCount: _rc, ...bareCfg } = bare;
    await mkdir(join(containers, bare.ID));
    await writeFile(join(containers, bare.ID, 'config.v2.json'), JSON.stringify(bareCfg));

    const logs: string[] = [];
    const again = new ContainerStore(dataRoot, { log: (m) => logs.push(m) });
    const loaded = await again.load();
    assert.deepEqual(loaded.map((r) => r.Name).sort(), ['/bare', '/good']);
    const bareLoaded = loaded.find((r) => r.Name === '/bare')!;
    assert.deepEqual(bareLoaded.HostConfig, {});
    assert.equal(bareLoaded.RestartCount, 0);
    assert.equal(logs.length, 4, logs.join('\n'));
    assert.ok(logs.some((l) => l.includes(broken)));
    assert.ok(logs.some((l) => l.includes(empty)));
    assert.ok(logs.some((l) => l.includes(`is stored at ${moved}`)));
    assert.ok(logs.some((l) => l.includes('not-an-id')));
  });

  it('loads nothing from a missing root and removes a container dir', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(join(dataRoot, 'nope'));
    assert.deepEqual(await store.load(), []);
    const s2 = new ContainerStore(dataRoot);
    const rec = makeRecord();
    await s2.save(rec);
    await writeFile(join(s2.dir(rec.ID), 'hosts'), '127.0.0.1 localhost\n');
    await s2.remove(rec.ID);
    await assert.rejects(stat(s2.dir(rec.ID)), { code: 'ENOENT' });
    assert.equal(s2.get(rec.ID), undefined);
    await s2.remove(rec.ID); // again: no error
  });

  it('two records of one name on disk: the newest keeps it, the other is renamed for good and can be found', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(dataRoot);
    const older = makeRecord({ Name: '/twin', Created: '2026-01-01T00:00:00.000000000Z' });
    const newer = makeRecord({ Name: '/twin', Created: '2026-01-02T00:00:00.000000000Z' });
    // Written past the name index, as a crash's leftover would be.
    await store.save(older);
    await store.save(newer);
    for (let i = 0; i < 2; i++) {
      const logs: string[] = [];
      const again = new ContainerStore(dataRoot, { log: (m) => logs.push(m) });
      const loaded = await again.load();
      assert.equal(loaded.length, 2);
      assert.equal(again.names.resolve('twin'), newer.ID);
      const renamed = again.get(older.ID)!;
      assert.notEqual(renamed.Name, '/twin');
      assert.equal(again.names.resolve(renamed.Name), older.ID);
      assert.equal(again.names.resolve(older.ID), older.ID);
      // Saved: the next start finds it under its new name, with nothing to report.
      assert.equal(logs.length, i === 0 ? 1 : 0, logs.join('\n'));
    }
  });

  it('a save that comes while a removal waits for earlier writes does not bring the directory back', async () => {
    const dataRoot = await root();
    const store = new ContainerStore(dataRoot);
    const rec = makeRecord({ Name: '/ghost' });
    await store.save(rec);
    rec.State.Running = true;
    const earlier = store.save(rec);
    const removal = store.remove(rec.ID);
    // E.g. a health status or an exit recorded while `rm -f` goes on: the record is being removed.
    const late = assert.rejects(store.save(rec), /No such container/);
    await earlier;
    await removal;
    await late;
    await assert.rejects(stat(store.dir(rec.ID)), { code: 'ENOENT' });
    assert.deepEqual(await new ContainerStore(dataRoot, { log: () => {} }).load(), [], 'a removed container loaded again at the next start');
  });
});
