import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDaemonConfig } from '../../../src/daemon/config.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-config-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` (an object is JSON-encoded) to a fresh file and returns its path. */
async function configFile(content: unknown): Promise<string> {
  const path = join(dir, `daemon-${n++}.json`);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const missing = () => join(dir, 'does-not-exist.json');

describe('loadDaemonConfig', () => {
  test('defaults when there are no flags and no file', async () => {
    const cfg = await loadDaemonConfig(['--config-file', await configFile('')]);
    assert.equal(cfg.dataRoot, '/var/lib/wharf');
    assert.equal(cfg.execRoot, '/run/wharf');
    assert.deepEqual(cfg.hosts, ['unix:///run/wharf.sock']);
    assert.equal(cfg.debug, false);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.defaultRuntime, 'runc');
    assert.deepEqual(cfg.runtimes, { runc: { path: 'runc' } });
    assert.equal(cfg.pidfile, '/run/wharf.pid');
    assert.equal(cfg.liveRestore, false);
    assert.equal(cfg.group, 'wharf');
    assert.equal(cfg.cgroupParent, undefined);
    assert.deepEqual(cfg.execOpts, []);
    assert.equal(cfg.cgroupDriver, 'cgroupfs');
    assert.equal(cfg.maxConcurrentDownloads, 3);
    assert.equal(cfg.storageDriver, 'overlay2');
    assert.deepEqual(cfg.dns, []);
    assert.deepEqual(cfg.insecureRegistries, []);
    assert.deepEqual(cfg.registryMirrors, []);
    assert.deepEqual(cfg.defaultAddressPools, []);
  });

  test('flags set every option', async () => {
    const cfg = await loadDaemonConfig([
      '--config-file', await configFile({}),
      '--data-root', '/tmp/d', '--exec-root', '/tmp/e',
      '-H', 'unix:///tmp/a.sock', '--host', 'tcp://127.0.0.1:2375',
      '-D', '--add-runtime', 'crun=/usr/bin/crun', '--default-runtime', 'crun',
      '-p', '/tmp/p.pid', '--live-restore', '-G', 'staff', '--log-level', 'warn',
      '--cgroup-parent', 'mygroup', '--exec-opt', 'native.cgroupdriver=systemd',
      '--bip', '172.30.0.1/16', '--default-address-pool', 'base=10.10.0.0/16,size=24',
      '--insecure-registry', '127.0.0.1:5000', '--registry-mirror', 'http://127.0.0.1:5001',
      '--max-concurrent-downloads', '5', '--dns', '1.1.1.1', '--dns', '8.8.8.8', '-s', 'overlay2',
    ]);
    assert.equal(cfg.dataRoot, '/tmp/d');
    assert.equal(cfg.execRoot, '/tmp/e');
    assert.deepEqual(cfg.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
    assert.equal(cfg.debug, true);
    assert.equal(cfg.logLevel, 'warn', 'an explicit log level wins over -D');
    assert.deepEqual(cfg.runtimes, { runc: { path: 'runc' }, crun: { path: '/usr/bin/crun' } });
    assert.equal(cfg.defaultRuntime, 'crun');
    assert.equal(cfg.pidfile, '/tmp/p.pid');
    assert.equal(cfg.liveRestore, true);
    assert.equal(cfg.group, 'staff');
    assert.equal(cfg.cgroupParent, 'mygroup');
    assert.deepEqual(cfg.execOpts, ['native.cgroupdriver=systemd']);
    assert.equal(cfg.cgroupDriver, 'systemd');
    assert.equal(cfg.bip, '172.30.0.1/16');
    assert.deepEqual(cfg.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
    assert.deepEqual(cfg.insecureRegistries, ['127.0.0.1:5000']);
    assert.deepEqual(cfg.registryMirrors, ['http://127.0.0.1:5001']);
    assert.equal(cfg.maxConcurrentDownloads, 5);
    assert.deepEqual(cfg.dns, ['1.1.1.1', '8.8.8.8']);
  });

  test('-D alone sets the debug log level', async () => {
    const cfg = await loadDaemonConfig(['--config-file', await configFile({}), '-D']);
    assert.equal(cfg.logLevel, 'debug');
  });

  test("daemon.json keys use Docker's names", async () => {
    const path = await configFile({
      'data-root': '/srv/wharf',
      'exec-root': '/srv/run',
      hosts: ['unix:///srv/w.sock'],
      debug: true,
      'default-runtime': 'crun',
      runtimes: { crun: { path: '/usr/bin/crun', runtimeArgs: ['--debug'] } },
      pidfile: '/srv/w.pid',
      'live-restore': true,
      group: 'docker',
      'log-level': 'error',
      'cgroup-parent': '/custom',
      'exec-opts': ['native.cgroupdriver=cgroupfs'],
      bip: '192.168.99.1/24',
      'default-address-pools': [{ base: '10.20.0.0/16', size: 24 }],
      'insecure-registries': ['localhost:5000'],
      'registry-mirrors': ['http://localhost:5001'],
      'max-concurrent-downloads': 7,
      dns: ['9.9.9.9'],
      'storage-driver': 'overlay2',
    });
    const cfg = await loadDaemonConfig(['--config-file', path]);
    assert.equal(cfg.configFile, path);
    assert.equal(cfg.dataRoot, '/srv/wharf');
    assert.equal(cfg.execRoot, '/srv/run');
    assert.deepEqual(cfg.hosts, ['unix:///srv/w.sock']);
    assert.equal(cfg.debug, true);
    assert.equal(cfg.defaultRuntime, 'crun');
    assert.deepEqual(cfg.runtimes.crun, { path: '/usr/bin/crun', runtimeArgs: ['--debug'] });
    assert.equal(cfg.pidfile, '/srv/w.pid');
    assert.equal(cfg.liveRestore, true);
    assert.equal(cfg.group, 'docker');
    assert.equal(cfg.logLevel, 'error');
    assert.equal(cfg.cgroupParent, '/custom');
    assert.equal(cfg.bip, '192.168.99.1/24');
    assert.deepEqual(cfg.defaultAddressPools, [{ base: '10.20.0.0/16', size: 24 }]);
    assert.deepEqual(cfg.insecureRegistries, ['localhost:5000']);
    assert.deepEqual(cfg.registryMirrors, ['http://localhost:5001']);
    assert.equal(cfg.maxConcurrentDownloads, 7);
    assert.deepEqual(cfg.dns, ['9.9.9.9']);
  });

  test('log-driver and log-opts: defaults, file, flags, and Docker\'s errors', async () => {
    const def = await loadDaemonConfig(['--config-file', await configFile('')]);
    assert.equal(def.logDriver, 'json-file');
    assert.deepEqual(def.logOpts, {});
    const file = await loadDaemonConfig(['--config-file', await configFile({ 'log-driver': 'local', 'log-opts': { 'max-size': '10m', 'max-file': '3' } })]);
    assert.equal(file.logDriver, 'local');
    assert.deepEqual(file.logOpts, { 'max-size': '10m', 'max-file': '3' });
    const flags = await loadDaemonConfig(['--config-file', await configFile(''), '--log-opt', 'max-size=2k', '--log-opt', 'tag=x']);
    assert.deepEqual(flags.logOpts, { 'max-size': '2k', tag: 'x' });
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile({ 'log-driver': 'gelf' })]), /logger: no log driver named 'gelf' is registered/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile({ 'log-opts': { 'max-size': 10 } })]), /invalid value for "log-opts".*expected an object of strings/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile(''), '--log-opt', 'max-size=big']), /invalid size: 'big'/);
  });

  test('flags and the file combine when they set different keys', async () => {
    const path = await configFile({ debug: true, 'data-root': '/srv/data' });
    const cfg = await loadDaemonConfig(['--config-file', path, '--exec-root', '/srv/exec', '-H', 'unix:///srv/s.sock']);
    assert.equal(cfg.debug, true);
    assert.equal(cfg.dataRoot, '/srv/data');
    assert.equal(cfg.execRoot, '/srv/exec');
    assert.deepEqual(cfg.hosts, ['unix:///srv/s.sock']);
  });

  test('a key set both as a flag and in the file is an error, with both values (Docker wording)', async () => {
    const path = await configFile({ hosts: ['tcp://127.0.0.1:2375'], debug: true, 'data-root': '/a' });
    await assert.rejects(
      loadDaemonConfig(['--config-file', path, '-H', 'unix:///tmp/x.sock', '--data-root', '/b']),
      {
        message:
          'the following directives are specified both as a flag and in the configuration file: ' +
          'data-root: (from flag: /b, from file: /a), hosts: (from flag: [unix:///tmp/x.sock], from file: [tcp://127.0.0.1:2375])',
      },
    );
    await assert.rejects(loadDaemonConfig(['--config-file', path, '-D']), /debug: \(from flag: true, from file: true\)/);
  });

  test('runtimes from --add-runtime and the file merge; a name defined twice is an error', async () => {
    const path = await configFile({ runtimes: { crun: { path: '/usr/bin/crun' } } });
    const cfg = await loadDaemonConfig(['--config-file', path, '--add-runtime', 'youki=/usr/bin/youki']);
    assert.deepEqual(Object.keys(cfg.runtimes).sort(), ['crun', 'runc', 'youki']);
    await assert.rejects(loadDaemonConfig(['--config-file', path, '--add-runtime', 'crun=/x']), /runtime 'crun' was already defined/);
    await assert.rejects(loadDaemonConfig(['--config-file', path, '--add-runtime', 'bad']), /invalid runtime argument: bad/);
    await assert.rejects(loadDaemonConfig(['--config-file', path, '--add-runtime', 'runc=/x']), /runtime name 'runc' is reserved/);
    await assert.rejects(loadDaemonConfig(['--config-file', path, '--default-runtime', 'nope']), /specified default runtime 'nope' does not exist/);
  });

  test('unknown keys are rejected, sorted, with Docker wording', async () => {
    const path = await configFile({ foo: 1, debug: false, bar: 'x' });
    await assert.rejects(loadDaemonConfig(['--config-file', path]), {
      message: "the following directives don't match any configuration option: bar, foo",
    });
  });

  test('wrong types name the key', async () => {
    const cases: [unknown, RegExp][] = [
      [{ debug: 'yes' }, /"debug".*expected a boolean, got string "yes"/],
      [{ hosts: 'unix:///x' }, /"hosts".*expected an array of strings/],
      [{ 'data-root': 5 }, /"data-root".*expected a string, got number 5/],
      [{ 'max-concurrent-downloads': 1.5 }, /"max-concurrent-downloads".*expected an integer/],
      [{ runtimes: { crun: { path: 3 } } }, /"runtimes\.crun\.path"/],
      [{ runtimes: { crun: { path: '/x', runtimeArgs: 'a' } } }, /"runtimes\.crun\.runtimeArgs"/],
      [{ 'default-address-pools': [{ base: '10.0.0.0/8', size: '24' }] }, /"default-address-pools\[0\]\.size"/],
    ];
    for (const [content, re] of cases) {
      await assert.rejects(loadDaemonConfig(['--config-file', await configFile(content)]), re, JSON.stringify(content));
    }
  });

  test('value checks', async () => {
    const f = await configFile({});
    await assert.rejects(loadDaemonConfig(['--config-file', f, '-s', 'vfs']), /driver not supported: vfs/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile({ 'log-level': 'loud' })]), /invalid logging level: loud/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--log-level', 'loud']), /log-level/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--max-concurrent-downloads', '-1']), /invalid max concurrent downloads: -1/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--mtu', '-1']), /invalid default MTU: -1/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile({ mtu: -5 })]), /invalid default MTU: -5/);
    assert.equal((await loadDaemonConfig(['--config-file', await configFile({ mtu: 1450 })])).mtu, 1450);
    assert.equal((await loadDaemonConfig(['--config-file', f])).mtu, 0);
    const dnsCfg = await loadDaemonConfig(['--config-file', await configFile({ 'dns-search': ['corp.test'], 'dns-opts': ['ndots:2'] })]);
    assert.deepEqual([dnsCfg.dnsSearch, dnsCfg.dnsOpts], [['corp.test'], ['ndots:2']]);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--dns-search', 'a b']), /a b is not a valid domain/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--dns-opt', 'x\ny']), /invalid DNS option/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--dns', 'not-an-ip']), /not-an-ip is not an ip address/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--bip', '10.0.0.1']), /bip/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '-H', 'ftp://x']), /Invalid bind address format: ftp:\/\/x/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--exec-opt', 'native.cgroupdriver=foo']), /native.cgroupdriver option foo not supported/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, '--nope']), /unknown option '--nope'/);
    await assert.rejects(loadDaemonConfig(['--config-file', f, 'extra']), /too many arguments|excess/i);
  });

  test('allow-direct-routing, from the flag or the file, off by default', async () => {
    const f = await configFile({});
    assert.equal((await loadDaemonConfig(['--config-file', f])).allowDirectRouting, false);
    assert.equal((await loadDaemonConfig(['--config-file', f, '--allow-direct-routing'])).allowDirectRouting, true);
    assert.equal((await loadDaemonConfig(['--config-file', await configFile({ 'allow-direct-routing': true })])).allowDirectRouting, true);
  });

  test('ipv6 and fixed-cidr-v6, from flags or the file, with dockerd\'s validation texts', async () => {
    const f = await configFile({});
    const off = await loadDaemonConfig(['--config-file', f]);
    assert.equal(off.ipv6, false);
    assert.equal(off.fixedCidrV6, undefined);
    const flags = await loadDaemonConfig(['--config-file', f, '--ipv6', '--fixed-cidr-v6', 'fd00:1:2::/64']);
    assert.equal(flags.ipv6, true);
    assert.equal(flags.fixedCidrV6, 'fd00:1:2::/64');
    const file = await loadDaemonConfig(['--config-file', await configFile({ ipv6: true, 'fixed-cidr-v6': 'fd00:3::/64' })]);
    assert.equal(file.ipv6, true);
    assert.equal(file.fixedCidrV6, 'fd00:3::/64');
    const bad: Array<[string, string]> = [
      ['10.0.0.0/24', "invalid fixed-cidr-v6: invalid fixed-cidr-v6: '10.0.0.0/24' is not a valid IPv6 subnet"],
      ['fd00::', `invalid fixed-cidr-v6: invalid fixed-cidr-v6: netip.ParsePrefix("fd00::"): no '/'`],
      ['fd00::/200', `invalid fixed-cidr-v6: invalid fixed-cidr-v6: netip.ParsePrefix("fd00::/200"): prefix length out of range`],
      ['ff02::/64', "invalid fixed-cidr-v6: invalid fixed-cidr-v6: multicast subnet 'ff02::/64' is not allowed"],
      ['fe80::/80', "invalid fixed-cidr-v6: invalid fixed-cidr-v6: 'fe80::/80' clashes with the Link-Local prefix 'fe80::/64'"],
    ];
    for (const [v, msg] of bad) await assert.rejects(loadDaemonConfig(['--config-file', f, '--fixed-cidr-v6', v]), { message: msg }, v);
    await loadDaemonConfig(['--config-file', f, '--fixed-cidr-v6', 'fe80::/64']);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile({ ipv6: 'yes' })]), /invalid value for "ipv6"/);
    await assert.rejects(
      loadDaemonConfig(['--config-file', await configFile({ ipv6: true }), '--ipv6']),
      /the following directives are specified both as a flag and in the configuration file: ipv6/,
    );
  });

  test('a bare socket path becomes unix://; duplicates collapse', async () => {
    const cfg = await loadDaemonConfig(['--config-file', await configFile({}), '-H', '/tmp/w.sock', '-H', 'unix:///tmp/w.sock']);
    assert.deepEqual(cfg.hosts, ['unix:///tmp/w.sock']);
  });

  test('a missing explicit config file is an error; invalid JSON is an error', async () => {
    await assert.rejects(loadDaemonConfig(['--config-file', missing()]), /no such file or directory/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile('{ "debug": ')]), /unable to parse configuration file/);
    await assert.rejects(loadDaemonConfig(['--config-file', await configFile('[]')]), /JSON object/);
  });

  test('relative paths become absolute', async () => {
    const cfg = await loadDaemonConfig(['--config-file', await configFile({}), '--data-root', 'rel/data']);
    assert.equal(cfg.dataRoot, join(process.cwd(), 'rel/data'));
  });
});

test('a missing default config file is fine; a present one is read', async () => {
  const cfg = await loadDaemonConfig(['--data-root', '/tmp/x'], missing());
  assert.equal(cfg.configFile, missing());
  assert.equal(cfg.dataRoot, '/tmp/x');
  const present = await configFile({ debug: true });
  assert.equal((await loadDaemonConfig([], present)).debug, true);
});
