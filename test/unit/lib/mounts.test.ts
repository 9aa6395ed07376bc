import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindNewNetns, mountFilesystem, unmountFilesystem } from '../../../src/lib/mounts.js';
import { CommandError } from '../../../src/lib/run.js';
import { useSpawnHelper } from '../../../src/lib/spawner.js';

assert.ok(useSpawnHelper(), 'the spawn helper is built (scripts/bundle-daemon.mjs)');

const mountedAt = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

test('mounts through the spawn helper: mount with options relative to a cwd, umount, and errors as the command would word them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-mounts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'm');
  mkdirSync(target);
  await mountFilesystem('tmpfs', 'wharf-test', target, ['size=1m', 'mode=0711']);
  assert.ok(mountedAt(target));
  assert.equal(statSync(target).mode & 0o777, 0o711, 'the options reached the filesystem');
  await unmountFilesystem(target);
  assert.ok(!mountedAt(target));
  const notMounted = await unmountFilesystem(target).catch((e: unknown) => e);
  assert.ok(notMounted instanceof CommandError);
  assert.equal(notMounted.message, `umount ${target}: Invalid argument`);
  assert.equal(notMounted.code, 22);
  const badOption = await mountFilesystem('tmpfs', 'x', target, ['no-such-option=1']).catch((e: unknown) => e);
  assert.ok(badOption instanceof CommandError);
  assert.match(badOption.message, new RegExp(`^mount -t tmpfs x -o no-such-option=1 ${target}: `));
  // An overlay names its directories relative to the cwd it is given (Docker's l/ links).
  for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'lower', 'f'), 'from below');
  await mountFilesystem('overlay', 'overlay', join(dir, 'merged'), ['lowerdir=lower', 'upperdir=upper', 'workdir=work'], { cwd: dir });
  assert.equal(readFileSync(join(dir, 'merged', 'f'), 'utf8'), 'from below');
  await unmountFilesystem(join(dir, 'merged'), { lazy: true });
  assert.ok(!mountedAt(join(dir, 'merged')));
});

test('mounts through the spawn helper: a new network namespace bound onto a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-netns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ns');
  writeFileSync(file, '');
  await bindNewNetns(file);
  assert.ok(mountedAt(file));
  const ns = statSync(file);
  assert.notEqual(ns.dev, statSync(dir).dev, 'an nsfs inode is bound there');
  assert.notEqual(ns.ino, statSync('/proc/self/ns/net').ino, 'a namespace of its own, not the caller’s');
  await unmountFilesystem(file);
  assert.ok(!mountedAt(file));
  const missing = await bindNewNetns(join(dir, 'nope')).catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.equal(missing.message, `unshare --net=${join(dir, 'nope')} true: No such file or directory`);
});
