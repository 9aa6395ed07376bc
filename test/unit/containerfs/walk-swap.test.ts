/**
 * A running container swapping a regular file for another kind of node between a walk's look at
 * the entry and the open of its contents (pinned.ts's seam makes the moment deterministic): the
 * tar walk and the builder's hash read the file they looked at and never open what its name
 * names by then. A FIFO stands in for a device node: the walk opening it shows as the file's
 * contents missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TarReader } from '../../../src/layer/tar-reader.js';
import { walkTar } from '../../../src/containerfs/walk.js';
import { treeHash } from '../../../src/containerfs/tree-hash.js';
import { pinSeam } from '../../../src/containerfs/pinned.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-walk-swap-'));
});
after(async () => {
  pinSeam.beforeOpen = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function makeTree(name: string): Promise<string> {
  const t = join(dir, name);
  await mkdir(join(t, 'sub'), { recursive: true });
  await writeFile(join(t, 'sub/victim'), 'original');
  await writeFile(join(t, 'z'), 'zulu');
  return t;
}

/** Swaps tree's sub/victim for a FIFO the first time the walk is about to open it. */
function swapOnOpen(tree: string): string[] {
  const seen: string[] = [];
  pinSeam.beforeOpen = (at) => {
    seen.push(at);
    if (!at.endsWith('/victim') || seen.filter((s) => s.endsWith('/victim')).length > 1) return;
    unlinkSync(join(tree, 'sub/victim'));
    execFileSync('mkfifo', [join(tree, 'sub/victim')]);
  };
  return seen;
}

async function contents(tar: Iterable<Buffer>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of new TarReader(Readable.from(tar), undefined, { digest: false }).entries()) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    if (e.header.type === 'file') out.set(e.header.name, Buffer.concat(parts).toString());
  }
  return out;
}

test('tar walk: a file swapped for a FIFO before its open is archived as the file that was looked at', async () => {
  const t = await makeTree('tar');
  const seen = swapOnOpen(t);
  try {
    const files = await contents(walkTar({ at: t, name: 'tree' }));
    assert.ok(seen.some((s) => s.endsWith('/victim')), 'the seam ran');
    assert.equal(files.get('tree/sub/victim'), 'original');
    assert.equal(files.get('tree/z'), 'zulu');
  } finally {
    pinSeam.beforeOpen = undefined;
  }
});

test('builder hash: a file swapped for a FIFO before its open hashes as the file that was looked at', async () => {
  const want = treeHash(await makeTree('hash-plain'));
  const t = await makeTree('hash-swapped');
  const seen = swapOnOpen(t);
  try {
    assert.equal(treeHash(t), want);
    assert.ok(seen.some((s) => s.endsWith('/victim')), 'the seam ran');
  } finally {
    pinSeam.beforeOpen = undefined;
  }
});
