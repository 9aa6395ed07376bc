/** The busybox fixture tar: what the integration tests and the quick start rely on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { buildBusyboxRootfsBuffer, busyboxApplets } from '../../fixtures/busybox.js';

interface Seen {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  mtime: number;
  content: Buffer;
}

async function readTar(buf: Buffer): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      out.set(h.name.replace(/\/$/, ''), {
        type: h.type ?? 'file',
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        linkname: h.linkname ?? undefined,
        mtime: h.mtime?.getTime() ?? 0,
        content: Buffer.concat(chunks),
      });
      next();
    });
  });
  Readable.from([buf]).pipe(extract);
  await done;
  return out;
}

test('busybox rootfs tar: binary, applet symlinks, users, directories; deterministic', async () => {
  const buf = await buildBusyboxRootfsBuffer();
  const entries = await readTar(buf);

  const bb = entries.get('bin/busybox');
  assert.ok(bb, 'bin/busybox present');
  assert.equal(bb.type, 'file');
  assert.equal(bb.mode & 0o7777, 0o755);
  assert.equal(bb.content.subarray(0, 4).toString('latin1'), '\x7fELF');

  const applets = await busyboxApplets();
  assert.ok(applets.length > 100, 'busybox-static lists its applets');
  for (const name of applets) {
    const e = entries.get(`bin/${name}`);
    assert.ok(e, `bin/${name}`);
    assert.equal(e.type, 'symlink');
    assert.equal(e.linkname, 'busybox');
  }
  for (const name of ['sh', 'echo', 'id', 'sleep', 'cat', 'ls', 'top', 'wget']) {
    assert.equal(entries.get(`bin/${name}`)?.linkname, 'busybox', name);
  }

  const passwd = entries.get('etc/passwd')!.content.toString().split('\n');
  assert.ok(passwd.includes('root:x:0:0:root:/root:/bin/sh'));
  assert.ok(passwd.some((l) => l.startsWith('daemon:x:1:1:')));
  assert.ok(passwd.some((l) => l.startsWith('nobody:x:65534:65534:')));
  assert.ok(passwd.some((l) => l.startsWith('wharfuser:x:1000:1000:')));
  const group = entries.get('etc/group')!.content.toString().split('\n');
  assert.ok(group.includes('wharfgroup:x:1001:wharfuser'));
  assert.ok(group.includes('wharfuser:x:1000:'));

  const tmp = entries.get('tmp');
  assert.equal(tmp?.type, 'directory');
  assert.equal(tmp.mode & 0o7777, 0o1777);
  for (const d of ['root', 'home', 'var', 'proc', 'sys', 'dev', 'etc', 'usr/bin']) {
    assert.equal(entries.get(d)?.type, 'directory', d);
  }
  assert.equal(entries.get('root')!.mode & 0o7777, 0o700);

  const mtimes = new Set([...entries.values()].map((e) => e.mtime));
  assert.equal(mtimes.size, 1, 'one fixed mtime');
  assert.ok(buf.equals(await buildBusyboxRootfsBuffer()), 'the same bytes every time');
});
