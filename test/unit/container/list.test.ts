import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerListOptions } from '../../../src/api/backend.js';
import type { ContainerRecord } from '../../../src/container/container.js';
import { commandString, filterContainers, toSummary, type ListResolvers } from '../../../src/container/list.js';
import { setPaused, setRestarting, setRunning, setStopped } from '../../../src/container/state.js';
import { isEngineError, noSuchContainer, noSuchImage } from '../../../src/lib/errors.js';
import { fakeId, makeRecord } from './helpers.js';

const IMG_A = 'sha256:' + 'a'.repeat(64);
const IMG_B = 'sha256:' + 'b'.repeat(64);
const IMG_B_CHILD = 'sha256:' + 'c'.repeat(64);
const T0 = Date.parse('2026-05-01T12:00:00Z');
const ns = (ms: number) => BigInt(ms) * 1_000_000n;

/** Five containers, created one minute apart (index 0 oldest). */
function fixture(): ContainerRecord[] {
  const mk = (i: number, name: string, over: Partial<ContainerRecord> = {}) =>
    makeRecord({ ID: fakeId(`${i < 3 ? 'a' : 'b'}${i}`), Name: `/${name}`, Created: new Date(T0 + i * 60_000).toISOString(), ...over });
  const created = mk(0, 'created-one', { Config: { Image: 'busybox', Labels: { app: 'web', tier: 'front' } } });
  const exited0 = mk(1, 'exited-zero', { Image: IMG_B, Config: { Image: 'alpine', Labels: { app: 'db' } } });
  setRunning(exited0.State, 10, ns(T0));
  setStopped(exited0.State, 0, ns(T0 + 1000));
  const exited3 = mk(2, 'exited-three', { Image: IMG_B_CHILD });
  setRunning(exited3.State, 11, ns(T0));
  setStopped(exited3.State, 3, ns(T0 + 1000));
  const running = mk(3, 'web-1', {
    Config: { Image: 'busybox', Labels: { app: 'web' } },
    MountPoints: { '/data': { Type: 'volume', Name: 'vol1', Source: '/v/vol1/_data', Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' } },
    NetworkSettings: {
      Bridge: '', SandboxID: '', SandboxKey: '',
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': null },
      Networks: { bridge: { NetworkID: 'f00dfeed', IPAddress: '172.17.0.2' } },
    },
  });
  setRunning(running.State, 12, ns(T0));
  const paused = mk(4, 'web-2');
  setRunning(paused.State, 13, ns(T0));
  setPaused(paused.State);
  return [exited3, running, created, paused, exited0]; // deliberately unordered
}

function resolvers(recs: ContainerRecord[]): ListResolvers {
  return {
    resolveContainer(ref) {
      const r = recs.find((c) => c.ID === ref || c.Name === `/${ref.replace(/^\//, '')}` || c.ID.startsWith(ref));
      if (!r) throw noSuchContainer(ref);
      return r;
    },
    async resolveImage(ref) {
      if (ref === 'alpine' || ref === IMG_B) return IMG_B;
      if (ref === 'busybox') return IMG_A;
      throw noSuchImage(ref);
    },
    async imageDescendants(id) {
      return id === IMG_B ? [IMG_B_CHILD] : [];
    },
  };
}

async function names(recs: ContainerRecord[], opts: Partial<ContainerListOptions>): Promise<string[]> {
  const out = await filterContainers(recs, { all: false, size: false, filters: {}, ...opts }, resolvers(recs));
  return out.map((r) => r.Name.slice(1));
}

async function errorOf(p: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isEngineError(err));
    return { kind: err.kind, message: err.message };
  }
  assert.fail('expected an error');
}

describe('container list filters', () => {
  const recs = fixture();

  it('lists running (incl. paused) newest first; all lists everything; limit implies all', async () => {
    assert.deepEqual(await names(recs, {}), ['web-2', 'web-1']);
    assert.deepEqual(await names(recs, { all: true }), ['web-2', 'web-1', 'exited-three', 'exited-zero', 'created-one']);
    assert.deepEqual(await names(recs, { limit: 3 }), ['web-2', 'web-1', 'exited-three']);
  });

  it('orders by the creation time to the nanosecond, whatever the number of fraction digits', async () => {
    const at = (frac: string, name: string) => makeRecord({ ID: fakeId(name), Name: `/${name}`, Created: `2026-05-01T12:00:00${frac}Z` });
    const same = [at('.1', 'c1'), at('.100000002', 'c3'), at('.100000001', 'c2'), at('.099999999', 'c0'), at('.12', 'c4')];
    assert.deepEqual(await names(same, { all: true }), ['c4', 'c3', 'c2', 'c1', 'c0']);
  });

  it('status filter (and implies all); invalid status is Docker text', async () => {
    assert.deepEqual(await names(recs, { filters: { status: ['exited'] } }), ['exited-three', 'exited-zero']);
    assert.deepEqual(await names(recs, { filters: { status: ['created', 'paused'] } }), ['web-2', 'created-one']);
    assert.deepEqual(await errorOf(names(recs, { filters: { status: ['sleeping'] } })), {
      kind: 'InvalidParameter',
      message: "invalid filter 'status=sleeping': invalid value for state (sleeping): must be one of created, running, paused, restarting, removing, exited, dead",
    });
  });

  it('restarting containers count as running', async () => {
    const r = makeRecord({ ID: fakeId('9f'), Name: '/looping', Created: new Date(T0 + 600_000).toISOString() });
    setRunning(r.State, 1, ns(T0));
    setRestarting(r.State, 1, ns(T0 + 1000));
    const withR = [...recs, { ...r, State: { ...r.State, Running: false } }];
    assert.deepEqual(await names(withR, {}), ['looping', 'web-2', 'web-1']);
    assert.deepEqual(await names(withR, { filters: { status: ['restarting'] } }), ['looping']);
  });

  it('unknown filter key', async () => {
    assert.deepEqual(await errorOf(names(recs, { filters: { colour: ['red'] } })), { kind: 'InvalidParameter', message: "invalid filter 'colour'" });
  });

  it('name: regexp or exact, with or without slash', async () => {
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['web'] } }), ['web-2', 'web-1']);
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['^exited-t'] } }), ['exited-three']);
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['/created-one'] } }), ['created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['^/web-1$', 'zero'] } }), ['web-1', 'exited-zero']);
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['('] } }), [], 'an invalid regexp matches nothing');
    assert.deepEqual(await names(recs, { all: true, filters: { name: ['(?i)^WEB-1$'] } }), ['web-1'], "Go's (?i)");
  });

  it('id: unique prefixes; ambiguous or unknown match nothing', async () => {
    const web1 = recs.find((r) => r.Name === '/web-1')!;
    assert.deepEqual(await names(recs, { all: true, filters: { id: [web1.ID.slice(0, 4)] } }), ['web-1']);
    assert.deepEqual(await names(recs, { all: true, filters: { id: [web1.ID] } }), ['web-1']);
    assert.deepEqual(await names(recs, { all: true, filters: { id: ['b'] } }), [], 'ambiguous prefix');
    assert.deepEqual(await names(recs, { all: true, filters: { id: ['a0'] } }), ['created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { id: ['ffff'] } }), []);
    assert.deepEqual(await names(recs, { all: true, filters: { id: [web1.ID.slice(0, 4)], name: ['exited'] } }), []);
  });

  it('label: key and key=value, all must hold', async () => {
    assert.deepEqual(await names(recs, { all: true, filters: { label: ['app'] } }), ['web-1', 'exited-zero', 'created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { label: ['app=web'] } }), ['web-1', 'created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { label: ['app=web', 'tier=front'] } }), ['created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { label: ['app=nope'] } }), []);
  });

  it('exited: code of containers that ran; bad value is InvalidParameter', async () => {
    assert.deepEqual(await names(recs, { all: true, filters: { exited: ['0'] } }), ['exited-zero']);
    assert.deepEqual(await names(recs, { all: true, filters: { exited: ['3', '0'] } }), ['exited-three', 'exited-zero']);
    const e = await errorOf(names(recs, { all: true, filters: { exited: ['x'] } }));
    assert.equal(e.kind, 'InvalidParameter');
    assert.match(e.message, /^invalid filter 'exited=x'/);
  });

  it('before / since walk the creation order; unknown ref is NotFound', async () => {
    assert.deepEqual(await names(recs, { all: true, filters: { before: ['exited-three'] } }), ['exited-zero', 'created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { since: ['exited-three'] } }), ['web-2', 'web-1']);
    assert.deepEqual(await names(recs, { all: true, filters: { since: ['created-one'], before: ['web-1'] } }), ['exited-three', 'exited-zero']);
    assert.deepEqual(await names(recs, { filters: { since: ['created-one'] } }), ['web-2', 'web-1'], 'still running only without all');
    assert.equal((await errorOf(names(recs, { filters: { before: ['ghost'] } }))).message, 'No such container: ghost');
  });

  it('ancestor: image and its descendants; unknown image matches nothing', async () => {
    assert.deepEqual(await names(recs, { all: true, filters: { ancestor: ['alpine'] } }), ['exited-three', 'exited-zero']);
    assert.deepEqual(await names(recs, { all: true, filters: { ancestor: ['busybox'] } }), ['web-2', 'web-1', 'created-one']);
    assert.deepEqual(await names(recs, { all: true, filters: { ancestor: ['nope'] } }), []);
  });

  it('volume, network, publish, expose, health, is-task', async () => {
    assert.deepEqual(await names(recs, { filters: { volume: ['vol1'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { volume: ['/data'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { network: ['bridge'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { network: ['f00d'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { publish: ['8080'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { publish: ['8000-8100/tcp'] } }), ['web-1']);
    assert.deepEqual(await names(recs, { filters: { publish: ['8080/udp'] } }), []);
    assert.deepEqual(await names(recs, { filters: { expose: ['53/udp'] } }), ['web-1']);
    assert.equal((await errorOf(names(recs, { filters: { publish: ['1:2'] } }))).message, "filter for 'publish' should not contain ':': 1:2");
    assert.deepEqual(await names(recs, { filters: { health: ['none'] } }), ['web-2', 'web-1']);
    assert.deepEqual(await names(recs, { filters: { health: ['healthy'] } }), []);
    assert.match((await errorOf(names(recs, { filters: { health: ['meh'] } }))).message, /^invalid filter 'health=meh': invalid value for health/);
    assert.deepEqual(await names(recs, { filters: { 'is-task': ['false'] } }), ['web-2', 'web-1']);
    assert.deepEqual(await names(recs, { filters: { 'is-task': ['true'] } }), []);
  });
});

describe('container summary', () => {
  it('builds the ps item with Docker fields, order and texts', () => {
    const recs = fixture();
    const web = recs.find((r) => r.Name === '/web-1')!;
    web.Path = 'sh';
    web.Args = ['-c', 'sleep 1000'];
    const s = toSummary(web, { now: T0 + 3000 });
    assert.deepEqual(Object.keys(s), ['Id', 'Names', 'Image', 'ImageID', 'Command', 'Created', 'Ports', 'Labels', 'State', 'Status', 'HostConfig', 'NetworkSettings', 'Mounts']);
    assert.deepEqual(s.Names, ['/web-1']);
    assert.equal(s.Image, 'busybox');
    assert.equal(s.ImageID, IMG_A);
    assert.equal(s.Command, "sh -c 'sleep 1000'");
    assert.equal(s.Created, Math.floor((T0 + 3 * 60_000) / 1000));
    assert.equal(s.State, 'running');
    assert.equal(s.Status, 'Up 3 seconds');
    assert.deepEqual(s.Ports, [
      { PrivatePort: 53, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    ]);
    assert.deepEqual(s.Labels, { app: 'web' });
    assert.deepEqual(s.HostConfig, { NetworkMode: 'bridge' });
    assert.deepEqual(Object.keys(s.NetworkSettings.Networks.bridge!), [
      'IPAMConfig', 'Links', 'Aliases', 'MacAddress', 'DriverOpts', 'GwPriority', 'NetworkID', 'EndpointID', 'Gateway',
      'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'DNSNames',
    ]);
    assert.equal(s.NetworkSettings.Networks.bridge!.IPAddress, '172.17.0.2');
    assert.deepEqual(s.Mounts, [{ Type: 'volume', Name: 'vol1', Source: '/v/vol1/_data', Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' }]);

    const sized = toSummary(web, { now: T0, sizeRw: 12, sizeRootFs: 100 });
    assert.deepEqual(Object.keys(sized).slice(6, 9), ['Ports', 'SizeRw', 'SizeRootFs']);
    assert.equal('SizeRw' in toSummary(web, { sizeRw: 0 }), false, 'zero size omitted as Docker');

    const paused = toSummary(recs.find((r) => r.Name === '/web-2')!, { now: T0 + 3000 });
    assert.equal(paused.State, 'paused');
    assert.equal(paused.Status, 'Up 3 seconds (Paused)');
    const ex = toSummary(recs.find((r) => r.Name === '/exited-three')!, { now: T0 + 1000 + 5 * 60_000 });
    assert.equal(ex.Status, 'Exited (3) 5 minutes ago');
    assert.equal(ex.State, 'exited');
    const cr = toSummary(recs.find((r) => r.Name === '/created-one')!);
    assert.equal(cr.Status, 'Created');
    assert.equal(cr.State, 'created');
  });

  it('command string quotes args with spaces only', () => {
    assert.equal(commandString('/bin/echo', []), '/bin/echo');
    assert.equal(commandString('nginx', ['-g', 'daemon off;']), "nginx -g 'daemon off;'");
  });
});
