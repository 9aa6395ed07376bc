import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, parseCpus, parseMountSpec, parsePortSpec, parseRestartPolicy, parseRunArgv, parseUlimit } from '../../../src/cli/run-options.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-runopts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('run flag parsing', () => {
  it('stops option parsing at the image: the rest is the command', () => {
    const s = parseRunArgv(['--rm', 'busybox', 'ls', '-la', '--name', 'x']);
    assert.equal(s.config.Image, 'busybox');
    assert.deepEqual(s.config.Cmd, ['ls', '-la', '--name', 'x']);
    assert.equal(s.name, undefined);
    assert.equal(s.hostConfig.AutoRemove, true);
  });

  it('honours -- before the image', () => {
    const s = parseRunArgv(['-d', '--', 'busybox', '-x']);
    assert.equal(s.config.Image, 'busybox');
    assert.deepEqual(s.config.Cmd, ['-x']);
    assert.equal(s.detach, true);
  });

  it('attaches stdout/stderr by default, stdin with -i, and none with -d', () => {
    const a = parseRunArgv(['busybox']);
    assert.deepEqual([a.config.AttachStdin, a.config.AttachStdout, a.config.AttachStderr], [false, true, true]);
    assert.equal(a.config.Cmd, null);
    const b = parseRunArgv(['-it', 'busybox', 'sh']);
    assert.deepEqual([b.config.AttachStdin, b.config.OpenStdin, b.config.StdinOnce, b.config.Tty], [true, true, true, true]);
    const c = parseRunArgv(['-d', '-i', 'busybox']);
    assert.deepEqual([c.config.AttachStdin, c.config.AttachStdout, c.config.StdinOnce, c.config.OpenStdin], [false, false, false, true]);
    const d = parseRunArgv(['-a', 'STDERR', 'busybox']);
    assert.deepEqual([d.config.AttachStdout, d.config.AttachStderr], [false, true]);
    assert.throws(() => parseRunArgv(['-a', 'foo', 'busybox']), /valid streams are STDIN, STDOUT and STDERR/);
  });

  it('collects repeated flags and resolves KEY-only env from the CLI environment', () => {
    const s = parseRunArgv(['-e', 'A=1', '--env', 'B', '-e', 'C', '-l', 'x=y', '--label', 'z', 'busybox'], 'run', { B: 'from-env' });
    assert.deepEqual(s.config.Env, ['A=1', 'B=from-env', 'C']);
    assert.deepEqual(s.config.Labels, { x: 'y', z: '' });
  });

  it('reads env files before -e, skipping comments and unset bare keys', () => {
    const f = join(dir, 'env');
    writeFileSync(f, '# comment\n\nFOO=bar\n  SPACED=1\nHOME_X\nUNSET_Y\n');
    const s = parseRunArgv(['--env-file', f, '-e', 'Z=9', 'busybox'], 'run', { HOME_X: 'h' });
    assert.deepEqual(s.config.Env, ['FOO=bar', 'SPACED=1', 'HOME_X=h', 'Z=9']);
    writeFileSync(f, 'BAD KEY=1\n');
    assert.throws(() => parseRunArgv(['--env-file', f, 'busybox']), /^Error: --env-file: variable 'BAD KEY' contains whitespaces$/);
    assert.throws(() => parseRunArgv(['--env-file', join(dir, 'nope'), 'busybox']), /--env-file: open .*nope: no such file or directory/);
  });

  it('clears the entrypoint with an empty string', () => {
    assert.deepEqual(parseRunArgv(['--entrypoint', '', 'busybox']).config.Entrypoint, ['']);
    assert.deepEqual(parseRunArgv(['--entrypoint=/bin/sh', 'busybox', '-c', 'x']).config.Entrypoint, ['/bin/sh']);
    assert.equal(parseRunArgv(['busybox']).config.Entrypoint, null);
  });

  it('parses memory units, cpus, shares, pids and shm size', () => {
    const s = parseRunArgv(['-m', '512m', '--memory-swap', '-1', '--memory-reservation', '1g', '--cpus', '1.5', '-c', '512', '--pids-limit', '100', '--shm-size', '64k', '--cpuset-cpus', '0-1', 'busybox']);
    assert.equal(s.hostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(s.hostConfig.MemorySwap, -1);
    assert.equal(s.hostConfig.MemoryReservation, 1024 ** 3);
    assert.equal(s.hostConfig.NanoCpus, 1_500_000_000);
    assert.equal(s.hostConfig.CpuShares, 512);
    assert.equal(s.hostConfig.PidsLimit, 100);
    assert.equal(s.hostConfig.ShmSize, 65536);
    assert.equal(s.hostConfig.CpusetCpus, '0-1');
    assert.throws(() => parseRunArgv(['-m', '10x', 'busybox']), (e: Error) => e instanceof FlagError && e.message === `invalid argument "10x" for "-m, --memory" flag: invalid suffix: 'x'`);
    assert.equal(parseCpus('0.000000001'), 1);
    assert.throws(() => parseCpus('0.0000000001'), /value is too precise/);
  });

  it('parses restart policies with Docker messages and rejects --rm with a restart policy', () => {
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
    assert.throws(() => parseRestartPolicy('on-failure:x'), /^Error: invalid restart policy format: maximum retry count must be an integer$/);
    assert.throws(() => parseRestartPolicy(':3'), /no policy provided before colon/);
    assert.deepEqual(parseRunArgv(['busybox']).hostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.throws(() => parseRunArgv(['--rm', '--restart', 'always', 'busybox']), /conflicting options: cannot specify both --restart and --rm/);
  });

  it('accepts pflag boolean syntax --flag=false', () => {
    const s = parseRunArgv(['--sig-proxy=false', '--init=false', '--privileged=true', 'busybox']);
    assert.equal(s.sigProxy, false);
    assert.equal(s.hostConfig.Init, false);
    assert.equal(s.hostConfig.Privileged, true);
    assert.equal(parseRunArgv(['busybox']).sigProxy, true);
    assert.equal(parseRunArgv(['busybox']).hostConfig.Init, undefined);
    assert.equal(parseRunArgv(['--init', 'busybox']).hostConfig.Init, true);
  });

  it('parses ports, expose, volumes, tmpfs, mounts, ulimits, hosts and networks', () => {
    const s = parseRunArgv([
      '-p', '8080:80', '-p', '127.0.0.1:53:53/udp', '-p', '9000', '--expose', '7000-7001', '-P',
      '-v', '/host:/ctr:ro', '-v', '/anon', '--tmpfs', '/run:rw,size=64m',
      '--mount', 'type=bind,src=/a,dst=/b,readonly', '--ulimit', 'nofile=1024:2048',
      '--add-host', 'db=10.0.0.2', '--dns', '1.1.1.1', '--network', 'host', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL',
      '--read-only', '--security-opt', 'no-new-privileges', '--stop-signal', 'SIGINT', '--stop-timeout', '5',
      '-w', '/tmp', '-u', '1000:1000', '-h', 'box', '--pull', 'never', '--platform', 'linux/amd64', 'busybox',
    ]);
    assert.deepEqual(s.hostConfig.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    assert.deepEqual(Object.keys(s.config.ExposedPorts!).sort(), ['53/udp', '7000/tcp', '7001/tcp', '80/tcp', '9000/tcp']);
    assert.equal(s.hostConfig.PublishAllPorts, true);
    assert.deepEqual(s.hostConfig.Binds, ['/host:/ctr:ro']);
    assert.deepEqual(s.config.Volumes, { '/anon': {} });
    assert.deepEqual(s.hostConfig.Tmpfs, { '/run': 'rw,size=64m' });
    assert.deepEqual(s.hostConfig.Mounts, [{ Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true }]);
    assert.deepEqual(s.hostConfig.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    assert.deepEqual(s.hostConfig.ExtraHosts, ['db:10.0.0.2']);
    assert.deepEqual(s.hostConfig.Dns, ['1.1.1.1']);
    assert.equal(s.hostConfig.NetworkMode, 'host');
    assert.deepEqual(s.hostConfig.CapAdd, ['NET_ADMIN']);
    assert.deepEqual(s.hostConfig.CapDrop, ['ALL']);
    assert.equal(s.hostConfig.ReadonlyRootfs, true);
    assert.deepEqual(s.hostConfig.SecurityOpt, ['no-new-privileges']);
    assert.equal(s.config.StopSignal, 'SIGINT');
    assert.equal(s.config.StopTimeout, 5);
    assert.equal(s.config.WorkingDir, '/tmp');
    assert.equal(s.config.User, '1000:1000');
    assert.equal(s.config.Hostname, 'box');
    assert.equal(s.pull, 'never');
    assert.equal(s.platform, 'linux/amd64');
    assert.equal(parseRunArgv(['busybox']).hostConfig.NetworkMode, 'default');
  });

  it('validates --pull and helper parsers', () => {
    assert.throws(() => parseRunArgv(['--pull', 'sometimes', 'busybox']), /invalid pull option: 'sometimes': must be one of "always", "missing" or "never"/);
    assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8000' } },
      { port: '81/tcp', binding: { HostIp: '', HostPort: '8001' } },
    ]);
    assert.deepEqual(parseMountSpec('type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777'), {
      Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 },
    });
    assert.throws(() => parseMountSpec('type=bind,src=/a'), /target is required/);
    assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
    assert.throws(() => parseUlimit('nproc'), /invalid ulimit argument: nproc/);
  });

  it('--ulimit: go-units rules, -1 unlimited, the Docker CLI\'s errors', () => {
    assert.deepEqual(parseUlimit('core=-1'), { Name: 'core', Soft: -1, Hard: -1 });
    assert.deepEqual(parseUlimit('nofile=5:-1'), { Name: 'nofile', Soft: 5, Hard: -1 });
    const err = (v: string) => {
      try {
        parseUlimit(v);
      } catch (e) {
        assert.ok(e instanceof FlagError, v);
        return e.message;
      }
      assert.fail(`${v} was accepted`);
    };
    assert.equal(err('foo=1'), 'invalid argument "foo=1" for "--ulimit" flag: invalid ulimit type: foo');
    assert.equal(err('nofile=x'), 'invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax');
    assert.equal(err('nofile=1:y'), 'invalid argument "nofile=1:y" for "--ulimit" flag: strconv.ParseInt: parsing "y": invalid syntax');
    assert.equal(err('nofile=-1:5'), 'invalid argument "nofile=-1:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 5');
    assert.equal(err('nofile=6:5'), 'invalid argument "nofile=6:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 6 > 5');
    assert.equal(err('nofile=1:2:3'), 'invalid argument "nofile=1:2:3" for "--ulimit" flag: too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`');
    assert.equal(err('nofile=9223372036854775808'), 'invalid argument "nofile=9223372036854775808" for "--ulimit" flag: strconv.ParseInt: parsing "9223372036854775808": value out of range');
  });

  it("--network: the long form per network, the older flags on the first, Docker CLI's errors", () => {
    const eps = (argv: string[]) => parseRunArgv([...argv, 'busybox']).networkingConfig.EndpointsConfig;
    const s = parseRunArgv(['--network', 'name=Front,alias=Web,alias=w2,gw-priority=-4,driver-opt=K=V,mac-address=02:42:ac:11:00:09', '--network', 'back', 'busybox']);
    // As the Docker CLI does, the whole field is lowercased.
    assert.equal(s.hostConfig.NetworkMode, 'front');
    assert.deepEqual(s.networkingConfig.EndpointsConfig, {
      front: { Aliases: ['web', 'w2'], MacAddress: '02:42:ac:11:00:09', DriverOpts: { k: 'v' }, GwPriority: -4 },
      back: {},
    });
    assert.deepEqual(eps(['--network', 'n1', '--network-alias', 'a', '--ip', '10.1.2.3', '--link', 'db:db', '--network', 'name=n2,ip=10.9.9.9']), {
      n1: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.1.2.3' }, Links: ['db:db'] },
      n2: { IPAMConfig: { IPv4Address: '10.9.9.9' } },
    });
    // On the default bridge --link is a legacy link, not an endpoint's; one plain network sends no endpoint.
    assert.deepEqual(eps(['--network', 'bridge', '--link', 'db:db']), {});
    assert.deepEqual(eps(['--network', 'n1']), {});
    // No --network: the older flags make the default network's endpoint, when there is an alias or an address.
    assert.deepEqual(eps(['--network-alias', 'a', '--ip', '10.0.0.5', '--mac-address', '02:42:ac:11:00:09']), {
      default: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.5' }, MacAddress: '02:42:ac:11:00:09' },
    });
    assert.deepEqual(eps(['--mac-address', '02:42:ac:11:00:09']), {});
    const flagError = (value: string, why: string) =>
      assert.throws(() => parseRunArgv(['--network', value, 'busybox']), (e: Error) => e instanceof FlagError && e.message === `invalid argument "${value}" for "--network" flag: ${why}`);
    flagError('name=n,bogus=1', 'invalid field key bogus');
    flagError('alias=x', 'network name/id is not specified');
    flagError('name=n,gw-priority=x', 'invalid gw-priority (x): invalid syntax');
    flagError('name=n,driver-opt=x', 'invalid key value pair format in driver options');
    flagError('name=n,,alias=x', 'invalid field ');
    assert.throws(() => eps(['--network', 'name=n,alias=x', '--network-alias', 'y']), /^Error: conflicting options: cannot specify both --network-alias and per-network alias$/);
    assert.throws(() => eps(['--network', 'name=n,ip=10.0.0.2', '--ip', '10.0.0.3']), /cannot specify both --ip and per-network IPv4 address/);
    assert.throws(() => eps(['--network', 'n', '--network', 'name=n']), /network "n" is specified multiple times/);
    assert.throws(() => eps(['--mac-address', '02:42:zz:00:00:01']), /^Error: 02:42:zz:00:00:01 is not a valid mac address$/);
    assert.throws(() => eps(['--network', 'name=n,mac-address=02:42']), /^Error: 02:42 is not a valid mac address$/);
  });
});
