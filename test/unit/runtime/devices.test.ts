import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devicesFromPath, hostDevices, majorMinor, parseDeviceCgroupRule, resolveDevices } from '../../../src/runtime/devices.js';

const root = process.getuid?.() === 0;

test('major/minor of a dev_t as glibc splits it', () => {
  assert.deepEqual(majorMinor(0x0a_c8n), { major: 10, minor: 200 });
  assert.deepEqual(majorMinor((259n << 8n) | 3n), { major: 259, minor: 3 });
  // glibc's makedev for numbers past 12/8 bits
  const makedev = (ma: bigint, mi: bigint) => ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
  assert.deepEqual(majorMinor(makedev(0x12345n, 0x6789an)), { major: 0x12345, minor: 0x6789a });
});

test('device cgroup rules: Docker\'s syntax and text', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b *:* m'), { allow: true, type: 'b', access: 'm' });
  assert.throws(() => parseDeviceCgroupRule('c 1:3'), /^.*invalid device cgroup rule format: 'c 1:3'$/);
});

test('--device: a node, a symlink to one, a directory of nodes; Docker\'s message for the rest', { skip: !root && 'mknod needs root' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-dev-'));
  try {
    execFileSync('mknod', ['-m', '0640', join(dir, 'null'), 'c', '1', '3']);
    await mkdir(join(dir, 'sub'));
    execFileSync('mknod', ['-m', '0600', join(dir, 'sub', 'loop9'), 'b', '7', '9']);
    await writeFile(join(dir, 'sub', 'plain'), 'x');
    await symlink(join(dir, 'null'), join(dir, 'link'));
    const one = await devicesFromPath(join(dir, 'link'), '/dev/mynull', 'rw');
    assert.deepEqual(one.devices, [{ type: 'c', path: '/dev/mynull', major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0 }]);
    assert.deepEqual(one.rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
    const many = await devicesFromPath(dir, '/dev/x', 'rwm');
    assert.deepEqual(many.devices.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`).sort(), ['/dev/x/null c 1:3', '/dev/x/sub/loop9 b 7:9']);
    await assert.rejects(devicesFromPath('/dev/nope', '/dev/nope', 'rwm'), {
      message: 'error gathering device information while adding custom device "/dev/nope": no such file or directory',
    });
    await assert.rejects(devicesFromPath(join(dir, 'sub', 'plain'), '/x', 'rwm'), /: not a device node$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('privileged: every block and char device of the host\'s /dev, without what containerd skips', { skip: !root && 'mknod needs root' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-dev-'));
  try {
    execFileSync('mknod', [join(dir, 'kvm'), 'c', '10', '232']);
    execFileSync('mknod', [join(dir, 'console'), 'c', '5', '1']);
    execFileSync('mknod', [join(dir, 'fifo'), 'p']);
    for (const d of ['pts', 'shm', 'net']) await mkdir(join(dir, d));
    execFileSync('mknod', [join(dir, 'pts', '0'), 'c', '136', '0']);
    execFileSync('mknod', [join(dir, 'net', 'tun'), 'c', '10', '200']);
    await symlink('/proc/self/fd', join(dir, 'fd'));
    const paths = (await hostDevices(dir)).map((d) => d.path.slice(dir.length)).sort();
    assert.deepEqual(paths, ['/kvm', '/net/tun']);
    const r = await resolveDevices({ Privileged: true, Devices: [{ PathOnHost: join(dir, 'kvm'), PathInContainer: '/dev/other' }] }, dir);
    assert.deepEqual(r.devices.map((d) => d.path.replace(dir, '')).sort(), ['/dev/other', '/kvm', '/net/tun']);
    assert.deepEqual(r.rules, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
