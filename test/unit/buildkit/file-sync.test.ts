import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tarHeaderOf } from '../../../src/buildkit/file-sync.js';
import type { Stat } from '../../../src/buildkit/proto.js';

const stat = (path: string, mode: number, extra: Partial<Stat> = {}): Stat => ({
  path,
  mode,
  uid: 1000,
  gid: 100,
  size: 0,
  modTime: 1_767_225_600 * 1e9 + 123_456_000,
  linkname: '',
  devmajor: 0,
  devminor: 0,
  xattrs: {},
  ...extra,
});

// Go's os.FileMode bits as fsutil sends them.
const DIR = 2 ** 31;
const SYMLINK = 2 ** 27;
const DEVICE = 2 ** 26;
const PIPE = 2 ** 25;
const SOCKET = 2 ** 24;
const SETUID = 2 ** 23;
const CHAR = 2 ** 21;
const STICKY = 2 ** 20;

test("fsutil's entries as tar headers: types, permission bits, times in seconds", () => {
  assert.deepEqual(tarHeaderOf(stat('a/f', 0o644, { size: 5 })), { name: 'a/f', type: 'file', mode: 0o644, uid: 1000, gid: 100, mtime: 1_767_225_600, size: 5 });
  assert.equal(tarHeaderOf(stat('bin', 0o755 + SETUID))?.mode, 0o4755);
  assert.deepEqual(tarHeaderOf(stat('tmp', DIR + STICKY + 0o777)), { name: 'tmp/', type: 'directory', mode: 0o1777, uid: 1000, gid: 100, mtime: 1_767_225_600 });
  assert.deepEqual(tarHeaderOf(stat('l', SYMLINK + 0o777, { linkname: '../../etc/passwd' }))?.linkname, '../../etc/passwd');
  assert.equal(tarHeaderOf(stat('l', SYMLINK + 0o777))?.type, 'symlink');
  assert.deepEqual(tarHeaderOf(stat('h', 0o644, { linkname: 'a/f' })), { name: 'h', type: 'link', mode: 0o644, uid: 1000, gid: 100, mtime: 1_767_225_600, linkname: 'a/f' });
  assert.equal(tarHeaderOf(stat('p', PIPE + 0o600))?.type, 'fifo');
  assert.deepEqual(tarHeaderOf(stat('null', DEVICE + CHAR + 0o666, { devmajor: 1, devminor: 3 })), { name: 'null', type: 'char', mode: 0o666, uid: 1000, gid: 100, mtime: 1_767_225_600, devmajor: 1, devminor: 3 });
  assert.equal(tarHeaderOf(stat('sda', DEVICE + 0o660, { devmajor: 8 }))?.type, 'block');
  assert.equal(tarHeaderOf(stat('s', SOCKET + 0o755)), null);
  const x = tarHeaderOf(stat('x', 0o644, { xattrs: { 'user.k': Buffer.from('v') } }));
  assert.deepEqual([...(x?.xattrs ?? [])], [['user.k', Buffer.from('v')]]);
});
