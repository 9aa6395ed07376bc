import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBind, parseMountSpec, parseVolumesFrom, tmpfsData, validMountMode } from '../../../src/volume/mount-parser.js';
import { ociMounts } from '../../../src/volume/oci-mounts.js';
import type { StoredMountPoint } from '../../../src/volume/mount-points.js';
import { mountFlags, validateLocalOptions, validateVolumeName } from '../../../src/volume/local-driver.js';

describe('parseBind (-v)', () => {
  it('a host path is a bind with rprivate propagation, rw by default', () => {
    const m = parseBind('/host/dir/:/ctr');
    assert.equal(m.Type, 'bind');
    assert.equal(m.Source, '/host/dir');
    assert.equal(m.Destination, '/ctr');
    assert.equal(m.RW, true);
    assert.equal(m.Propagation, 'rprivate');
    assert.equal(m.Mode, '');
  });
  it('modes: ro, z, propagation', () => {
    const m = parseBind('/h:/c:ro,Z,rshared');
    assert.equal(m.RW, false);
    assert.equal(m.Propagation, 'rshared');
    assert.equal(m.Mode, 'ro,Z,rshared');
  });
  it('a name is a volume; nocopy turns copy-up off', () => {
    const m = parseBind('data:/var/lib/x:nocopy');
    assert.equal(m.Type, 'volume');
    assert.equal(m.Name, 'data');
    assert.equal(m.CopyData, false);
    assert.equal(parseBind('data:/x').CopyData, true);
  });
  it("Docker's errors", () => {
    assert.throws(() => parseBind('/h:/c:bogus'), { message: 'invalid mode: bogus' });
    assert.throws(() => parseBind('/c:rw'), { message: "invalid volume specification: '/c:rw'" });
    assert.throws(() => parseBind(':/c'), { message: "invalid volume specification: ':/c'" });
    assert.throws(() => parseBind('/h:relative'), {
      message: `invalid volume specification: '/h:relative': invalid mount config for type "bind": invalid mount path: 'relative' mount path must be absolute`,
    });
    assert.throws(() => parseBind('/h:/'), /destination can't be '\/'/);
    assert.throws(() => parseBind('/h:/c:ro,rw'), { message: 'invalid mode: ro,rw' });
  });
});

describe('parseMountSpec (--mount)', () => {
  it('a bind source must exist', () => {
    assert.throws(() => parseMountSpec({ Type: 'bind', Source: '/x', Target: '/y' }, () => false), {
      message: 'invalid mount config for type "bind": bind source path does not exist: /x',
    });
    const m = parseMountSpec({ Type: 'bind', Source: '/x', Target: '/y', ReadOnly: true }, () => true);
    assert.equal(m.RW, false);
  });
  it('options of another type are rejected', () => {
    assert.throws(() => parseMountSpec({ Type: 'volume', Target: '/y', TmpfsOptions: { SizeBytes: 1 } }), {
      message: 'invalid mount config for type "volume": field TmpfsOptions must not be specified',
    });
    assert.throws(() => parseMountSpec({ Type: 'tmpfs', Source: 'x', Target: '/y' }), {
      message: 'invalid mount config for type "tmpfs": field Source must not be specified',
    });
    assert.throws(() => parseMountSpec({ Type: 'bind', Target: '/y' }), {
      message: 'invalid mount config for type "bind": field Source must not be empty',
    });
  });
  it('volume options: driver, nocopy', () => {
    const m = parseMountSpec({ Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { NoCopy: true } });
    assert.equal(m.Name, 'v');
    assert.equal(m.CopyData, false);
  });
});

describe('mode, volumes-from, tmpfs data', () => {
  it('validMountMode allows one of each kind', () => {
    assert.ok(validMountMode('ro,z,rslave,nocopy,cached'));
    assert.ok(!validMountMode('z,Z'));
    assert.ok(!validMountMode('rw,x'));
  });
  it('parseVolumesFrom', () => {
    assert.deepEqual(parseVolumesFrom('c1'), ['c1', 'rw']);
    assert.deepEqual(parseVolumesFrom('c1:ro'), ['c1', 'ro']);
    assert.throws(() => parseVolumesFrom('c1:rshared'), { message: 'invalid mode: rshared' });
    assert.throws(() => parseVolumesFrom(''), { message: 'volumes-from specification cannot be an empty string' });
  });
  it('tmpfsData picks the largest exact unit', () => {
    assert.equal(tmpfsData({ SizeBytes: 10 * 1024 * 1024, Mode: 0o1770 }, true), 'ro,mode=1770,size=10m');
    assert.equal(tmpfsData({ SizeBytes: 1000 }, false), 'size=1000');
  });
});

describe('ociMounts', () => {
  it('binds and volumes are rbinds with rw/ro and propagation; tmpfs keeps the defaults', () => {
    const set = ociMounts([
      { Type: 'bind', Source: '/h', Destination: '/c', Mode: 'ro', RW: false, Propagation: 'rshared' },
      { Type: 'volume', Name: 'v', Source: '/vol/_data', Destination: '/v', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '', Spec: { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20 } } },
    ]);
    assert.deepEqual(set.mounts[0], { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'ro', 'rshared'] });
    assert.deepEqual(set.mounts[1]!.options, ['rbind', 'rw', 'rprivate']);
    assert.deepEqual(set.mounts[2], { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'size=1m'] });
    assert.equal(set.rootfsPropagation, 'shared');
  });

  it('read-only mounts are recursively read-only (rro) where the runtime can, unless a bind asks for its top mount only', () => {
    const ro = (over: Partial<StoredMountPoint> = {}, bind?: NonNullable<StoredMountPoint['Spec']>['BindOptions']): StoredMountPoint => ({
      Type: 'bind', Source: '/h', Destination: '/c', Mode: 'ro', RW: false, Propagation: 'rprivate',
      Spec: { Type: 'bind', Source: '/h', Target: '/c', ReadOnly: true, ...(bind ? { BindOptions: bind } : {}) }, ...over,
    });
    const opt = (m: StoredMountPoint, supported = true) =>
      ociMounts([m], new Set(), supported ? { supported: true } : { supported: false, error: 'rro is not supported by runtime "runc"' }).mounts[0]!.options?.[1];
    assert.equal(opt(ro()), 'rro');
    assert.equal(opt(ro({ Type: 'volume', Spec: { Type: 'volume', Target: '/c' } })), 'rro');
    assert.equal(opt(ro({}, { ReadOnlyNonRecursive: true })), 'ro');
    assert.equal(opt(ro(), false), 'ro');
    assert.equal(opt(ro({}, { ReadOnlyForceRecursive: true })), 'rro');
    assert.throws(() => opt(ro({}, { ReadOnlyForceRecursive: true }), false), { message: 'rro is not supported by runtime "runc"' });
    assert.throws(() => opt(ro({}, { ReadOnlyForceRecursive: true, ReadOnlyNonRecursive: true })), { message: 'mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive' });
    const rw = ro({ RW: true, Spec: { Type: 'bind', Source: '/h', Target: '/c', BindOptions: { ReadOnlyNonRecursive: true } } });
    assert.throws(() => opt(rw), { message: 'mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive' });
  });
});

describe('local driver names and options', () => {
  it("Docker's messages", () => {
    assert.throws(() => validateVolumeName('a'), { message: 'volume name is too short, names should be at least two alphanumeric characters' });
    assert.throws(() => validateVolumeName('../x'), /"..\/x" includes invalid characters for a local volume name/);
    validateVolumeName('my_vol.1-x');
    assert.throws(() => validateLocalOptions({ foo: 'x' }), { message: 'invalid option: "foo"' });
    assert.throws(() => validateLocalOptions({ type: 'tmpfs' }), { message: 'missing required option: "device"' });
    validateLocalOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=10m' });
  });
});

it("a local volume's o= splits into mount(2) flags and data, as moby's does", () => {
  assert.deepEqual(mountFlags('bind'), { flags: 0x1000, data: '' });
  assert.deepEqual(mountFlags('rbind,ro'), { flags: 0x5001, data: '' });
  assert.deepEqual(mountFlags('size=1m,noexec,uid=1000'), { flags: 0x8, data: 'size=1m,uid=1000' });
  assert.deepEqual(mountFlags('ro,rw'), { flags: 0, data: '' });
});
