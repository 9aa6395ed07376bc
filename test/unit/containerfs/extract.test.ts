/**
 * The container extractor (containerfs/extract.ts) making and replacing entries: a file made in
 * place gets exactly the owner and mode of its header whatever the kernel gave it at creation
 * (umask, a set-gid directory, a default ACL), an entry that meets an existing one replaces it
 * with a new inode and never writes through it, and a file cut short is not left behind. Run
 * with both kinds of file calls: the daemon's thread pool and the workers' direct calls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContainerRoot } from '../../../src/containerfs/root.js';
import { ContainerExtractor } from '../../../src/containerfs/extract.js';
import { directFs, threadPoolFs, type FsCalls } from '../../../src/containerfs/fs-calls.js';
import { lsetxattr } from '../../../src/layer/xattr.js';
import { tarEnd, tarEntryBlocks, type TarWriteHeader } from '../../../src/lib/tar-writer.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-container-extract-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (h: Partial<TarWriteHeader> & { name: string }, body?: string): Buffer[] => [
  ...tarEntryBlocks({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_000_000, size: body?.length ?? 0, ...h }, body === undefined ? [] : [Buffer.from(body)]),
];
const tarOf = (...entries: Buffer[][]) => Buffer.concat([...entries.flat(), tarEnd()]);

let roots = 0;
async function extractInto(dest: string, tar: Buffer, fs: FsCalls, chown?: { uid: number; gid: number }): Promise<void> {
  const root = await ContainerRoot.open(dest, { fs });
  try {
    await new ContainerExtractor(root, '/', { noOverwriteDirNonDir: false, ...(chown ? { chown } : {}) }).extract(Readable.from([tar]));
  } finally {
    await root.close();
  }
}

async function freshRoot(): Promise<string> {
  const p = join(dir, `root${roots++}`);
  await mkdir(p);
  return p;
}

/** A default ACL of owner rwx, group r, others nothing: what is made below gets at most 0o740. */
function defaultAcl(): Buffer {
  const entries: Array<[number, number]> = [
    [0x01, 7], // ACL_USER_OBJ
    [0x04, 4], // ACL_GROUP_OBJ
    [0x20, 0], // ACL_OTHER
  ];
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32LE(2, 0); // the xattr format's version
  entries.forEach(([tag, perm], i) => {
    b.writeUInt16LE(tag, 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(0xffffffff, 8 + i * 8);
  });
  return b;
}

for (const [kind, fs] of [['thread pool', threadPoolFs], ['direct', directFs]] as const) {
  test(`container extract (${kind}): owners and modes as the headers say, whatever the kernel gave at creation`, async () => {
    const dest = await freshRoot();
    // A set-gid directory hands its group to what is made in it; a default ACL masks the mode.
    await mkdir(join(dest, 'sgid'));
    await chown(join(dest, 'sgid'), 0, 4321);
    await chmod(join(dest, 'sgid'), 0o2775);
    await mkdir(join(dest, 'acl'));
    lsetxattr(join(dest, 'acl'), 'system.posix_acl_default', defaultAcl());
    const cases: Array<[string, number, number, number]> = [
      ['plain', 0o644, 0, 0],
      ['wide', 0o777, 0, 0], // more than the umask lets through
      ['setuid', 0o4755, 0, 0],
      ['setgid-owned', 0o2750, 1000, 1000],
      ['private', 0o600, 1000, 2000],
      ['sgid/root-group', 0o644, 0, 0],
      ['sgid/setuid', 0o4711, 1000, 0],
      ['acl/readable', 0o644, 0, 0],
      ['acl/open', 0o777, 0, 0],
    ];
    await extractInto(dest, tarOf(...cases.map(([name, mode, uid, gid]) => entry({ name, mode, uid, gid }, name))), fs);
    for (const [name, mode, uid, gid] of cases) {
      const st = await lstat(join(dest, name));
      assert.deepEqual({ name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }, { name, mode, uid, gid });
      assert.equal(await readFile(join(dest, name), 'utf8'), name);
      assert.equal(st.mtimeMs, 1_000_000_000);
    }
  });

  test(`container extract (${kind}): a copyUIDGID owner replaces every header's, in a set-gid directory too`, async () => {
    const dest = await freshRoot();
    await mkdir(join(dest, 'sgid'));
    await chown(join(dest, 'sgid'), 0, 4321);
    await chmod(join(dest, 'sgid'), 0o2775);
    await extractInto(dest, tarOf(entry({ name: 'f', uid: 7, gid: 8 }, 'a'), entry({ name: 'sgid/f', uid: 0, gid: 0 }, 'b')), fs, { uid: 0, gid: 0 });
    for (const name of ['f', 'sgid/f']) {
      const st = await lstat(join(dest, name));
      assert.deepEqual([st.uid, st.gid], [0, 0], name);
    }
  });

  test(`container extract (${kind}): an entry that meets an existing one replaces it with a new inode`, async () => {
    const dest = await freshRoot();
    const outside = join(dir, `outside-${kind.replace(' ', '-')}`);
    await writeFile(outside, 'host file');
    await writeFile(join(dest, 'hardlinked'), 'old');
    await link(join(dest, 'hardlinked'), join(dest, 'other-name'));
    await symlink(outside, join(dest, 'to-host'));
    await mkdir(join(dest, 'was-dir/sub'), { recursive: true });
    await writeFile(join(dest, 'was-file'), 'old');
    await writeFile(join(dest, 'becomes-link'), 'old');
    await extractInto(
      dest,
      tarOf(
        entry({ name: 'hardlinked', mode: 0o600 }, 'new'),
        entry({ name: 'to-host' }, 'new'),
        entry({ name: 'was-dir' }, 'new'),
        entry({ name: 'was-file', type: 'directory', mode: 0o751 }),
        entry({ name: 'becomes-link', type: 'symlink', linkname: 'hardlinked' }),
      ),
      fs,
    );
    assert.equal(await readFile(join(dest, 'hardlinked'), 'utf8'), 'new');
    assert.equal((await lstat(join(dest, 'hardlinked'))).mode & 0o7777, 0o600);
    assert.equal(await readFile(join(dest, 'other-name'), 'utf8'), 'old', 'the other link of the old inode is untouched');
    assert.equal(await readFile(outside, 'utf8'), 'host file', 'never written through a symlink');
    assert.ok((await lstat(join(dest, 'to-host'))).isFile());
    assert.equal(await readFile(join(dest, 'was-dir'), 'utf8'), 'new');
    assert.equal((await lstat(join(dest, 'was-file'))).mode & 0o7777, 0o751);
    assert.equal(await readlink(join(dest, 'becomes-link')), 'hardlinked');
    assert.deepEqual((await readdir(dest)).filter((n) => n.startsWith('.wharf')), [], 'no temporary name is left');
  });

  test(`container extract (${kind}): a file cut short is removed, not left half-written`, async () => {
    const dest = await freshRoot();
    const whole = tarOf(entry({ name: 'first' }, 'complete'), entry({ name: 'cut' }, 'x'.repeat(100_000)));
    const cut = whole.subarray(0, 512 * 3 + 512 + 40_000);
    await assert.rejects(extractInto(dest, cut, fs), /unexpected EOF/);
    assert.equal(await readFile(join(dest, 'first'), 'utf8'), 'complete');
    assert.deepEqual((await readdir(dest)).sort(), ['first']);
  });

  test(`container extract (${kind}): a cut file whose name another file took meanwhile leaves that file alone`, async () => {
    const dest = await freshRoot();
    await writeFile(join(dest, 'other'), 'written by someone else\n');
    const whole = tarOf(entry({ name: 'cut' }, 'x'.repeat(100_000)));
    // The name is taken over right after this extract made its file, as a racing extract would.
    const racing: FsCalls = {
      ...fs,
      open: async (path: string, flags: number, mode?: number) => {
        const fh = await fs.open(path, flags, mode);
        if (path.endsWith('/cut') && flags & fsc.O_CREAT) await rename(join(dest, 'other'), join(dest, 'cut'));
        return fh;
      },
    };
    await assert.rejects(extractInto(dest, whole.subarray(0, 512 + 40_000), racing), /unexpected EOF/);
    assert.equal(await readFile(join(dest, 'cut'), 'utf8'), 'written by someone else\n');
  });
}
