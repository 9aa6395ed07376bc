/** The CRI backends' pure parts: names and labels, timestamps, log paths, users, DNS, seccomp, OOM scores. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerRecord } from '../../../src/container/container.js';
import type { ContainerConfig__Output } from '../../../src/cri/gen/runtime/v1/ContainerConfig.js';
import { bindMounts, containerLogPath, userOf } from '../../../src/daemon/cri/containers.js';
import type { Mount__Output } from '../../../src/cri/gen/runtime/v1/Mount.js';
import { criMetaOf, engineLabels, engineName, matchesSelector, type CriMeta } from '../../../src/daemon/cri/labels.js';
import { resolvConf } from '../../../src/daemon/cri/pods.js';
import { restrictOomScoreAdj, seccompSecurityOpt } from '../../../src/daemon/cri/security.js';
import { rfc3339ToNanos } from '../../../src/daemon/cri/time.js';
import { isEngineError } from '../../../src/lib/errors.js';

const pod = { name: 'web', namespace: 'default', uid: '0b1c-uid' };

describe('CRI labels and names', () => {
  test("engine names are dockershim's, with characters Docker refuses replaced", () => {
    assert.equal(engineName('POD', pod, 0), 'k8s_POD_web_default_0b1c-uid_0');
    assert.equal(engineName('app', { name: 'a b', namespace: 'n/s', uid: 'u:1' }, 3), 'k8s_app_a-b_n-s_u-1_3');
  });

  test('labels carry io.kubernetes.*, the CRI labels, annotations, and a meta that round-trips', () => {
    const meta: CriMeta = { metadata: { name: 'app', attempt: 2 }, labels: { tier: 'web' }, annotations: { note: 'x' }, logPath: '/l/app.log' };
    const labels = engineLabels('container', meta, pod, { 'io.kubernetes.sandbox.id': 'abc' });
    assert.equal(labels['io.kubernetes.docker.type'], 'container');
    assert.equal(labels['io.kubernetes.pod.name'], 'web');
    assert.equal(labels['io.kubernetes.container.name'], 'app');
    assert.equal(labels['io.kubernetes.sandbox.id'], 'abc');
    assert.equal(labels.tier, 'web');
    assert.equal(labels['annotation.note'], 'x');
    const rec = { Config: { Labels: labels } } as unknown as ContainerRecord;
    assert.deepEqual(criMetaOf(rec, 'container'), meta);
    assert.equal(criMetaOf(rec, 'sandbox'), undefined);
    // A user label cannot pose as the CRI's own: the meta decides, a bad one hides the object.
    const forged = { Config: { Labels: { ...labels, 'io.wharf.cri.meta': '{not json' } } } as unknown as ContainerRecord;
    assert.equal(criMetaOf(forged, 'container'), undefined);
  });

  test('label selectors need every key=value', () => {
    assert.equal(matchesSelector({ a: '1', b: '2' }, { a: '1' }), true);
    assert.equal(matchesSelector({ a: '1' }, { a: '1', b: '2' }), false);
    assert.equal(matchesSelector({ a: '1' }, { a: '2' }), false);
    assert.equal(matchesSelector({}, undefined), true);
  });
});

describe('CRI timestamps', () => {
  test('RFC3339Nano becomes nanoseconds with all nine digits; the zero time is 0', () => {
    assert.equal(rfc3339ToNanos('2024-01-02T03:04:05.123456789Z'), '1704164645123456789');
    assert.equal(rfc3339ToNanos('2024-01-02T03:04:05Z'), '1704164645000000000');
    assert.equal(rfc3339ToNanos('2024-01-02T04:04:05.5+01:00'), '1704164645500000000');
    assert.equal(rfc3339ToNanos('0001-01-01T00:00:00Z'), '0');
    assert.equal(rfc3339ToNanos('garbage'), '0');
  });
});

describe('CRI container config', () => {
  test("the log path is kubelet's directory joined with the container's path, and must stay inside it", () => {
    assert.equal(containerLogPath('/var/log/pods/ns_web_uid', 'app/0.log'), '/var/log/pods/ns_web_uid/app/0.log');
    assert.equal(containerLogPath('', 'app/0.log'), '');
    assert.equal(containerLogPath('/var/log/pods/x', ''), '');
    for (const bad of ['../../etc/cron.d/x', '../x.log', '.']) {
      assert.throws(() => containerLogPath('/var/log/pods/x', bad), (e: unknown) => isEngineError(e, 'InvalidParameter'), bad);
    }
    assert.throws(() => containerLogPath('relative/dir', 'a.log'), (e: unknown) => isEngineError(e, 'InvalidParameter'));
  });

  test('run-as user, username and group become the engine user; a group alone is refused', () => {
    const cfg = (sc: Record<string, unknown>) => ({ linux: { security_context: sc } }) as unknown as ContainerConfig__Output;
    assert.equal(userOf(cfg({ run_as_user: { value: '1002' } })), '1002');
    assert.equal(userOf(cfg({ run_as_user: { value: '0' } })), '0');
    assert.equal(userOf(cfg({ run_as_username: 'www-data', run_as_group: { value: '33' } })), 'www-data:33');
    assert.equal(userOf(cfg({ run_as_user: { value: '1000' }, run_as_group: { value: '50000' } })), '1000:50000');
    assert.equal(userOf(cfg({})), '');
    assert.throws(() => userOf(cfg({ run_as_group: { value: '1' } })), /user group "1" is specified without user/);
  });

  test("a pod's DNS config becomes resolv.conf lines; values that could add lines are refused", () => {
    assert.equal(
      resolvConf({ servers: ['10.0.0.10', '10.0.0.11'], searches: ['ns.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] }),
      'nameserver 10.0.0.10\nnameserver 10.0.0.11\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n',
    );
    for (const bad of ['1.1.1.1\nnameserver 6.6.6.6', 'a b', 'x\0']) {
      assert.throws(() => resolvConf({ servers: [bad], searches: [], options: [] }), (e: unknown) => isEngineError(e, 'InvalidParameter'));
    }
  });
});

describe('CRI security', () => {
  test("seccomp: CRI's default is unconfined, RuntimeDefault is the engine's profile, Localhost reads the file", async () => {
    assert.deepEqual(await seccompSecurityOpt(null, ''), ['seccomp=unconfined']);
    assert.deepEqual(await seccompSecurityOpt({ profile_type: 'Unconfined', localhost_ref: '' }, ''), ['seccomp=unconfined']);
    assert.deepEqual(await seccompSecurityOpt({ profile_type: 'RuntimeDefault', localhost_ref: '' }, ''), []);
    assert.deepEqual(await seccompSecurityOpt(null, 'runtime/default'), []);
    assert.deepEqual(await seccompSecurityOpt(null, 'unconfined'), ['seccomp=unconfined']);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cri-unit-'));
    try {
      const profile = join(dir, 'p.json');
      await writeFile(profile, '{"defaultAction":"SCMP_ACT_ALLOW"}');
      assert.deepEqual(await seccompSecurityOpt({ profile_type: 'Localhost', localhost_ref: profile }, ''), ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
      assert.deepEqual(await seccompSecurityOpt(null, `localhost/${profile}`), ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
      await assert.rejects(seccompSecurityOpt({ profile_type: 'Localhost', localhost_ref: join(dir, 'missing.json') }, ''), /failed to load seccomp profile/);
      await assert.rejects(seccompSecurityOpt({ profile_type: 'Localhost', localhost_ref: 'relative.json' }, ''), /must be absolute/);
      await assert.rejects(seccompSecurityOpt(null, 'something/else'), /unsupported seccomp profile/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("oom_score_adj below the daemon's own is raised to it (restrict_oom_score_adj)", async () => {
    const { readFile } = await import('node:fs/promises');
    const own = Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim());
    assert.equal(restrictOomScoreAdj(-998), Math.max(-998, own));
    assert.equal(restrictOomScoreAdj(own - 1), own);
    assert.equal(restrictOomScoreAdj(1000), 1000);
  });
});

describe('CRI mounts', () => {
  test('a read-only mount is read-only on its top mount only, as containerd makes it; a writable one asks nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cri-mounts-'));
    try {
      const mount = (readonly: boolean) => ({ host_path: dir, container_path: '/m', readonly, propagation: 'PROPAGATION_PRIVATE' }) as unknown as Mount__Output;
      const [ro, rw] = await bindMounts([mount(true), mount(false)]);
      assert.deepEqual(ro!.BindOptions, { Propagation: 'rprivate', ReadOnlyNonRecursive: true });
      assert.equal(ro!.ReadOnly, true);
      assert.deepEqual(rw!.BindOptions, { Propagation: 'rprivate' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
