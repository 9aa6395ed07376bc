import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TarWriter } from '../../../src/lib/tar-writer.js';

test('tar headers carry Go file type bits in the mode, as Docker archives do', async () => {
  const w = new TarWriter();
  const chunks: Buffer[] = [];
  w.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => w.on('end', resolve));
  const base = { uid: 0, gid: 0, mtime: 0 };
  await w.add({ ...base, name: 'd/', type: 'directory', mode: 0o755 });
  await w.add({ ...base, name: 'd/f', type: 'file', mode: 0o4644, size: 1 }, Buffer.from('x'));
  await w.add({ ...base, name: 'd/l', type: 'symlink', mode: 0o777, linkname: 'f' });
  await w.add({ ...base, name: 'd/p', type: 'fifo', mode: 0o600 });
  w.finish();
  await done;
  const tar = Buffer.concat(chunks);
  const modes: string[] = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    modes.push(h.toString('ascii', 100, 107));
    const size = parseInt(h.toString('ascii', 124, 135), 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  assert.deepEqual(modes, ['0040755', '0104644', '0120777', '0010600']);
});
