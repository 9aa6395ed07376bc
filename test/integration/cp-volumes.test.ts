/**
 * docker cp through a container's volumes and bind mounts, as Docker mounts them into its view of
 * the rootfs: writes land in the volume (the running container and a second one see them), reads
 * come from it, `:ro` mounts and a read-only rootfs refuse with Docker's messages, export leaves
 * volumes out, and a symlink inside a volume or bind never reaches the host beside the source
 * (bait files planted there must stay unread and untouched). No mount is made on the host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineClient } from '../../src/client/engine-client.js';
import { cliOk, loadBusybox, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let client: EngineClient;
let host: string; // bind sources and, beside them, the bait
let work: string; // local files for docker cp
const SECRET = 'host-secret-' + Math.random().toString(36).slice(2);

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  client = new EngineClient({ host: d.host });
  host = await mkdtemp(join(tmpdir(), 'wharf-cpvol-host-'));
  work = await mkdtemp(join(tmpdir(), 'wharf-cpvol-work-'));
  await mkdir(join(host, 'src'));
  await mkdir(join(host, 'ro'));
  await writeFile(join(host, 'src', 'file'), 'from the bind');
  await writeFile(join(host, 'ro', 'keep'), 'keep');
  await writeFile(join(host, 'secret'), SECRET);
  await writeFile(join(work, 'local.txt'), 'from host');
});
after(async () => {
  client?.close();
  await d?.cleanup();
  for (const dir of [host, work]) if (dir) await rm(dir, { recursive: true, force: true });
});

const ok = (args: string[]): Promise<string> => cliOk(d, 'docker', args);

async function body(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function tarEntries(buf: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => void parts.push(c as Buffer));
      stream.on('end', () => {
        out.set(h.name, Buffer.concat(parts).toString());
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

async function makeTar(entries: Array<{ name: string; data?: string; type?: 'file' | 'directory' }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const h = { name: e.name, type: e.type ?? 'file', mode: 0o644, mtime: new Date(1_600_000_000_000) };
    if (e.type === 'directory') pack.entry(h);
    else pack.entry(h, Buffer.from(e.data ?? ''));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function put(container: string, path: string, tarBuf: Buffer): Promise<{ status: number; message: string }> {
  try {
    await body(await client.request('PUT', `/containers/${container}/archive`, { query: { path }, stream: Readable.from([tarBuf]) }));
    return { status: 200, message: '' };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode ?? 0, message: (err as Error).message };
  }
}

async function get(container: string, path: string): Promise<{ status: number; entries?: Map<string, string> }> {
  try {
    const res = await client.request('GET', `/containers/${container}/archive`, { query: { path } });
    return { status: res.statusCode ?? 0, entries: await tarEntries(await body(res)) };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode ?? 0 };
  }
}

async function hostUntouched(): Promise<void> {
  assert.deepEqual((await readdir(host)).sort(), ['ro', 'secret', 'src'], 'nothing was written beside the bind sources');
  assert.equal(await readFile(join(host, 'secret'), 'utf8'), SECRET);
  assert.deepEqual(await readdir(join(host, 'ro')), ['keep'], 'the read-only bind is unchanged');
}

/** Mount points below the daemon's temp dir, from this process's mountinfo. */
function mountsUnderRoot(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(d.root + '/'))
    .sort();
}

describe('cp through volumes and binds', () => {
  test('running container: cp into a named volume is seen inside and by a second container; cp out of it and of a bind', async () => {
    await ok(['run', '-d', '--name', 'vr', '-v', 'cpvol:/data', '-v', `${join(host, 'src')}:/hb`, '-v', `${join(host, 'ro')}:/ro:ro`, 'busybox', 'sleep', '1000']);
    const before = mountsUnderRoot();
    await ok(['cp', join(work, 'local.txt'), 'vr:/data/in.txt']);
    assert.equal(await ok(['exec', 'vr', 'cat', '/data/in.txt']), 'from host');
    assert.equal(await ok(['run', '--rm', '-v', 'cpvol:/v', 'busybox', 'cat', '/v/in.txt']), 'from host');
    // Into a directory inside the volume, made by the container.
    await ok(['exec', 'vr', 'mkdir', '/data/sub']);
    await ok(['cp', join(work, 'local.txt'), 'vr:/data/sub/']);
    assert.equal(await ok(['exec', 'vr', 'cat', '/data/sub/local.txt']), 'from host');

    await ok(['exec', 'vr', 'sh', '-c', 'echo written inside > /data/out.txt']);
    await ok(['cp', 'vr:/data/out.txt', join(work, 'out.txt')]);
    assert.equal(await readFile(join(work, 'out.txt'), 'utf8'), 'written inside\n');
    await ok(['cp', 'vr:/hb/file', join(work, 'bind.txt')]);
    assert.equal(await readFile(join(work, 'bind.txt'), 'utf8'), 'from the bind');
    // A tree holding mount points carries their content.
    const all = await get('vr', '/');
    assert.equal(all.status, 200);
    assert.ok([...all.entries!].some(([n, data]) => n.endsWith('data/in.txt') && data === 'from host'), 'the volume in the tar of /');
    assert.ok([...all.entries!].some(([n, data]) => n.endsWith('hb/file') && data === 'from the bind'), 'the bind in the tar of /');
    // /etc/hosts is the one the container sees (the daemon's file mounted there).
    assert.equal((await get('vr', '/etc/hosts')).entries!.get('hosts'), await ok(['exec', 'vr', 'cat', '/etc/hosts']));
    // Into the bind, seen on the host.
    await ok(['cp', join(work, 'local.txt'), 'vr:/hb/new.txt']);
    assert.equal(await readFile(join(host, 'src', 'new.txt'), 'utf8'), 'from host');
    await rm(join(host, 'src', 'new.txt'));
    assert.deepEqual(mountsUnderRoot(), before, 'cp made no mount');
  });

  test('read-only bind and read-only rootfs refuse with Docker’s messages and write nothing', async () => {
    const r = await d.docker(['cp', join(work, 'local.txt'), 'vr:/ro/']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: mounted volume is marked read-only/);
    const api = await put('vr', '/ro', await makeTar([{ name: 'x', data: 'x' }]));
    assert.equal(api.status, 400);
    // Through the root: an entry inside the ro mount, or replacing a mount point, is refused too.
    assert.equal((await put('vr', '/', await makeTar([{ name: 'ro/x', data: 'x' }]))).status, 500);
    assert.equal((await put('vr', '/', await makeTar([{ name: 'ro/deep/x', data: 'x' }]))).status, 500);
    assert.equal((await put('vr', '/', await makeTar([{ name: 'data', data: 'not a dir' }]))).status, 500);
    assert.equal(await ok(['exec', 'vr', 'cat', '/data/in.txt']), 'from host');
    await hostUntouched();

    await ok(['run', '-d', '--name', 'rofs', '--read-only', '-v', 'rofsvol:/data', '--mount', `type=bind,source=${join(host, 'ro')},target=/mro,readonly`, 'busybox', 'sleep', '1000']);
    const rootfs = await d.docker(['cp', join(work, 'local.txt'), 'rofs:/tmp/']);
    assert.equal(rootfs.code, 1);
    assert.match(rootfs.stderr, /container rootfs is marked read-only/);
    const mro = await d.docker(['cp', join(work, 'local.txt'), 'rofs:/mro/']);
    assert.match(mro.stderr, /mounted volume is marked read-only/);
    await ok(['cp', join(work, 'local.txt'), 'rofs:/data/']);
    assert.equal(await ok(['exec', 'rofs', 'cat', '/data/local.txt']), 'from host');
    await hostUntouched();
    await ok(['rm', '-f', 'rofs']);
  });

  test('symlinks inside a volume or bind to /, ../../.. or the host stay in the container', async () => {
    await ok(['exec', 'vr', 'sh', '-c', `ln -s / /data/root && ln -s ../../../../.. /data/up && ln -s ../secret /hb/sib && ln -s .. /hb/parent && ln -s ${host} /data/hostdir`]);
    for (const p of [`/data/root${host}/secret`, `/data/up${host}/secret`, '/hb/sib/', '/hb/parent/secret', '/hb/../secret', `/data/hostdir/secret`]) {
      const r = await get('vr', p);
      assert.equal(r.status, 404, `${p} must not reach the host`);
    }
    // The link itself is archived as the link it is.
    assert.deepEqual([...(await get('vr', '/hb/sib')).entries!.values()], ['']);
    // The links lead to the container's own files.
    const passwd = await get('vr', '/data/up/etc/passwd');
    assert.equal(passwd.status, 200);
    assert.equal(passwd.entries!.get('passwd'), await ok(['exec', 'vr', 'cat', '/etc/passwd']));
    assert.equal((await get('vr', '/hb/parent/data/in.txt')).entries?.get('in.txt'), 'from host');
    // Writes through them land in the container's root, never beside the bind source.
    assert.equal((await put('vr', '/hb/parent', await makeTar([{ name: 'via-parent', data: 'p' }]))).status, 200);
    assert.equal((await put('vr', '/data/up', await makeTar([{ name: 'via-up', data: 'u' }]))).status, 200);
    assert.equal((await put('vr', '/data', await makeTar([{ name: 'hostdir/pwned', data: 'h' }]))).status, 200);
    assert.equal(await ok(['exec', 'vr', 'sh', '-c', `cat /via-parent /via-up ${host}/pwned`]), 'puh');
    await hostUntouched();
    assert.deepEqual((await readdir(join(host, 'src'))).sort(), ['file', 'parent', 'sib']);
  });

  test('stopped containers: cp into a volume before the first start and out of it after exit, rootfs unmounted', async () => {
    const before = mountsUnderRoot();
    await ok(['create', '--name', 'vs', '-v', 'stopvol:/data', '-v', '/anon', 'busybox', 'sh', '-c', 'cat /data/local.txt /anon/local.txt; echo made > /data/made; echo anon > /anon/made']);
    await ok(['cp', join(work, 'local.txt'), 'vs:/data/']);
    await ok(['cp', join(work, 'local.txt'), 'vs:/anon/']);
    assert.deepEqual(mountsUnderRoot(), before, 'nothing stays mounted after cp into a stopped container');
    assert.equal(await ok(['start', '-a', 'vs']), 'from hostfrom host');
    await waitFor(async () => (await ok(['inspect', '-f', '{{.State.Running}}', 'vs'])).trim() === 'false', { what: 'vs to exit' });
    await ok(['cp', 'vs:/data/made', join(work, 'made.txt')]);
    assert.equal(await readFile(join(work, 'made.txt'), 'utf8'), 'made\n');
    const anon = await get('vs', '/anon');
    assert.equal(anon.entries!.get('anon/made'), 'anon\n');
    assert.equal(await ok(['run', '--rm', '-v', 'stopvol:/v', 'busybox', 'cat', '/v/made']), 'made\n');
    await waitFor(async () => mountsUnderRoot().join('\n') === before.join('\n'), { what: 'mounts back to those before' });
  });

  test('export leaves volumes and binds out, as Docker does', async () => {
    await ok(['export', '-o', join(work, 'fs.tar'), 'vr']);
    const entries = await tarEntries(await readFile(join(work, 'fs.tar')));
    assert.ok(entries.has('bin/sh'), 'the rootfs is there');
    assert.ok(!entries.has('data/in.txt') && !entries.has('hb/file'), 'no volume or bind content');
    assert.ok(!entries.has('data/out.txt'));
  });
});
