/**
 * Container defaults as Docker's, through the real Docker CLI: --device nodes and their cgroup
 * rules, the host's devices for --privileged, Docker's default sysctls in a container's own
 * network namespace, and create refusing strings that would inject lines into /etc files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOk, jsonBody, loadBusybox, socketRequest, startDaemon, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const ok = (args: string[]): Promise<string> => cliOk(d, 'docker', args);

/** The host's devices as Docker hands them to a privileged container: `path major:minor`. */
async function hostDeviceSet(dir = '/dev'): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (!['pts', 'shm', 'fd', 'mqueue'].includes(e.name)) out.push(...(await hostDeviceSet(full)));
    } else if ((e.isCharacterDevice() || e.isBlockDevice()) && e.name !== 'console') {
      const st = await lstat(full, { bigint: true });
      const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & 0xfffff000n));
      const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & 0xffffff00n));
      out.push(`${full} ${major}:${minor}`);
    }
  }
  return out;
}

async function createRaw(body: unknown): Promise<{ status: number; message: string }> {
  const r = await socketRequest(d.socket, 'POST', '/v1.47/containers/create', { body });
  return { status: r.status, message: jsonBody<{ message?: string }>(r)?.message ?? r.body };
}

describe('devices', () => {
  test('--device /dev/net/tun: the node with its numbers, usable; a read-only mapping refuses writes', async () => {
    const out = await ok(['run', '--rm', '--device', '/dev/net/tun', 'busybox', 'sh', '-c', 'stat -c "%F %t:%T" /dev/net/tun && exec 3<>/dev/net/tun && echo opened']);
    assert.equal(out, 'character special file a:c8\nopened\n');
    // Without the flag there is no such node.
    assert.equal((await d.docker(['run', '--rm', 'busybox', 'test', '-e', '/dev/net/tun'])).code, 1);
    // host:container:perms: the cgroup rule has the given permissions (fuse, 10:229, is not in
    // Docker's default rules as tun is).
    const ro = await ok(['run', '--rm', '--device', '/dev/fuse:/dev/myfuse:r', 'busybox', 'sh', '-c', 'stat -c "%t:%T" /dev/myfuse; exec 3</dev/myfuse && echo read-ok; (exec 4<>/dev/myfuse) 2>/dev/null || echo rw-refused']);
    assert.equal(ro, 'a:e5\nread-ok\nrw-refused\n');
    // --device-cgroup-rule alone allows the numbers; the node is made with mknod.
    const rule = await ok(['run', '--rm', '--device-cgroup-rule', 'c 10:229 rwm', 'busybox', 'sh', '-c', 'mknod /tmp/f c 10 229 && exec 3<>/tmp/f && echo opened']);
    assert.equal(rule, 'opened\n');
    assert.notEqual((await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/f c 10 229 && exec 3<>/tmp/f'])).code, 0);
  });

  test('a missing host device is refused at start with Docker\'s message; --rm leaves nothing', async () => {
    const r = await d.docker(['run', '--rm', '--device', '/dev/nope', 'busybox', 'true']);
    // Docker fails the start with this text; the 28.x CLI turns any "no such file or directory"
    // into 127 (toStatusError), against dockerd as here.
    assert.equal(r.code, 127, r.stderr);
    assert.match(r.stderr, /error gathering device information while adding custom device "\/dev\/nope": no such file or directory/);
    assert.equal(await ok(['ps', '-aq']), '');
  });

  test('--privileged: every device of the host\'s /dev, with the same numbers', async () => {
    const host = await hostDeviceSet();
    assert.ok(host.length > 20, `host devices: ${host.length}`);
    const out = await ok(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'find /dev -path /dev/pts -prune -o \\( -type c -o -type b \\) -exec stat -c "%n %t:%T" {} +']);
    const inside = new Set(
      out.trim().split('\n').map((l) => {
        const [path, mm] = l.split(' ');
        const [ma, mi] = mm!.split(':').map((h) => parseInt(h, 16));
        return `${path} ${ma}:${mi}`;
      }),
    );
    // runc makes /dev/ptmx a symlink to pts/ptmx in every container, privileged or not.
    const missing = host.filter((h) => !inside.has(h) && !h.startsWith('/dev/ptmx '));
    assert.deepEqual(missing, []);
    // The ones the issue names are among them (so in the container too), and they open.
    for (const name of ['/dev/fuse ', '/dev/net/tun ', '/dev/loop-control ']) assert.ok(host.some((h) => h.startsWith(name)), name);
    const kvm = host.some((h) => h.startsWith('/dev/kvm ')) ? ' 6<>/dev/kvm' : '';
    assert.equal(await ok(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', `exec 3<>/dev/fuse 4<>/dev/net/tun 5<>/dev/loop-control${kvm} && echo opened`]), 'opened\n');
  });
});

describe('default sysctls', () => {
  test('a non-root user binds port 80; the values read back; --sysctl overrides; not with the host network', async () => {
    const script = 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; httpd -p 80 -h /tmp && echo bound-80';
    assert.equal(await ok(['run', '--rm', '-u', '65534', 'busybox', 'sh', '-c', script]), '0\n0\t2147483647\nbound-80\n');
    // (busybox's ping only opens raw sockets, so ICMP echo sockets are checked by the value above.)
    const user = await d.docker(['run', '--rm', '-u', '65534', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=1024', 'busybox', 'sh', '-c', script]);
    assert.match(user.stdout, /^1024\n0\t2147483647\n$/);
    assert.match(user.stderr, /bind: Permission denied/);
    assert.notEqual(user.code, 0);
    const hostValue = (await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).trim();
    const hostPing = (await readFile('/proc/sys/net/ipv4/ping_group_range', 'utf8')).trim();
    const onHost = await ok(['run', '--rm', '--network', 'host', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start', '/proc/sys/net/ipv4/ping_group_range']);
    assert.equal(onHost, `${hostValue}\n${hostPing}\n`);
  });

  test('--sysctl: non-namespaced names refused, net.* refused with the host network', async () => {
    const bad = await d.docker(['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /sysctl "net\.ipv4\.ip_forward" not allowed in host network namespace/);
    const api = await createRaw({ Image: 'busybox', HostConfig: { Sysctls: { 'kernel.panic': '1' } } });
    assert.deepEqual(api, { status: 400, message: "sysctl 'kernel.panic=1' is not allowed" });
  });
});

describe('UTS and IPC', () => {
  test('--domainname sets the NIS domain name in the container (the kernel.domainname sysctl)', async () => {
    assert.equal(await ok(['run', '--rm', '--hostname', 'h1', '--domainname', 'example.test', 'busybox', 'cat', '/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname']), 'h1\nexample.test\n');
  });

  test('a client below API 1.40 gets a shareable IPC namespace by default; 1.40 and later private', async () => {
    const ipcOf = async (version: string) => {
      const r = await socketRequest(d.socket, 'POST', `/v${version}/containers/create`, { body: { Image: 'busybox' } });
      assert.equal(r.status, 201, r.body);
      const id = jsonBody<{ Id: string }>(r)!.Id;
      const mode = (await ok(['inspect', '-f', '{{.HostConfig.IpcMode}}', id])).trim();
      await ok(['rm', id]);
      return mode;
    };
    assert.equal(await ipcOf('1.39'), 'shareable');
    assert.equal(await ipcOf('1.40'), 'private');
  });

  test('--ipc none has no /dev/shm; only a shareable IPC namespace may be joined', async () => {
    assert.equal(await ok(['run', '--rm', '--ipc', 'none', 'busybox', 'sh', '-c', 'grep -c " /dev/shm " /proc/self/mountinfo || true']), '0\n');
    const donor = (await ok(['run', '-d', '--ipc', 'private', 'busybox', 'sleep', '300'])).trim();
    const joined = await d.docker(['run', '--rm', '--ipc', `container:${donor}`, 'busybox', 'true']);
    assert.equal(joined.code, 125);
    assert.match(joined.stderr, new RegExp(`container ${donor}: non-shareable IPC \\(hint: use IpcMode:shareable for the donor container\\)`));
    await ok(['rm', '-f', donor]);
  });

  test('--ipc container:<shareable> shares its /dev/shm; the host-side tmpfs goes at its exit', async () => {
    const donor = (await ok(['run', '-d', '--ipc', 'shareable', '--shm-size', '8m', 'busybox', 'sleep', '300'])).trim();
    const hostShm = join(d.dataRoot, 'containers', donor, 'mounts', 'shm');
    const mountedOnHost = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === hostShm);
    assert.ok(await mountedOnHost(), 'the shareable container\'s /dev/shm is a tmpfs on the host');
    await ok(['exec', donor, 'sh', '-c', 'echo from-donor > /dev/shm/seg']);
    // A joiner sees the donor's file and writes one the donor sees; both see the donor's size.
    assert.equal(await ok(['run', '--rm', '--ipc', `container:${donor}`, 'busybox', 'sh', '-c', 'cat /dev/shm/seg; echo from-joiner > /dev/shm/back']), 'from-donor\n');
    assert.equal(await ok(['exec', donor, 'cat', '/dev/shm/back']), 'from-joiner\n');
    assert.match(await ok(['exec', donor, 'df', '-k', '/dev/shm']), /\s8192\s/);
    // A private container keeps a /dev/shm of its own.
    assert.equal(await ok(['run', '--rm', 'busybox', 'sh', '-c', 'ls /dev/shm']), '');
    await ok(['stop', '-t', '0', donor]);
    assert.equal(await mountedOnHost(), false, 'the tmpfs is unmounted at the exit');
    await ok(['start', donor]);
    assert.ok(await mountedOnHost(), 'and mounted again at the next start');
    await ok(['rm', '-f', donor]);
    assert.equal(await mountedOnHost(), false);
  });
});

describe('strings that reach files', () => {
  test('--add-host with a newline cannot add /etc/hosts lines', async () => {
    const r = await d.docker(['run', '--rm', '--add-host', 'a\n6.6.6.6 bank.example:10.0.0.9', 'busybox', 'cat', '/etc/hosts']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /bad format for add-host: "a\\n6\.6\.6\.6 bank\.example:10\.0\.0\.9"/);
    const api = await createRaw({ Image: 'busybox', HostConfig: { ExtraHosts: ['db:10.0.0.9\n6.6.6.6 bank.example'] } });
    assert.deepEqual(api, { status: 400, message: 'invalid IP address in add-host: "10.0.0.9\\n6.6.6.6 bank.example"' });
    // As Docker, the settings are checked before the image is looked up.
    assert.equal((await createRaw({ Image: 'nosuchimage', HostConfig: { ExtraHosts: ['x:y'] } })).status, 400);
    assert.match(await ok(['run', '--rm', '--add-host', 'db:10.0.0.9', 'busybox', 'cat', '/etc/hosts']), /^10\.0\.0\.9\tdb$/m);
    assert.equal(await ok(['ps', '-aq']), '');
  });

  test('a relative tmpfs destination is refused with Docker\'s text', async () => {
    const r = await d.docker(['run', '--rm', '--tmpfs', 'run', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /invalid mount path: 'run' mount path must be absolute/);
    const m = await d.docker(['run', '--rm', '--mount', 'type=tmpfs,target=run', 'busybox', 'true']);
    assert.equal(m.code, 125);
    assert.match(m.stderr, /invalid mount config for type "tmpfs": invalid mount path: 'run' mount path must be absolute/);
  });

  test('a local volume\'s device is never read by mount(8) as an option', async () => {
    await ok(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', 'device=--version', 'dashvol']);
    // Read as an option, `mount --version` succeeds and the volume would seem mounted.
    const r = await d.docker(['run', '--rm', '-v', 'dashvol:/x', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed to mount local volume: .*--version/);
    await ok(['volume', 'rm', 'dashvol']);
  });

  test('a MAC address or a DNS search domain with a newline is refused; a MAC the kernel will not assign fails the start', async () => {
    const mac = await createRaw({
      Image: 'busybox',
      HostConfig: { NetworkMode: 'bridge' },
      NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: '02:42:ac:11:00:02\nlink set lo down' } } },
    });
    assert.deepEqual(mac, { status: 400, message: 'invalid MAC address 02:42:ac:11:00:02\nlink set lo down' });
    // Go's ParseMAC also takes dashes (and the CLI sends it as typed); ip link gets colons.
    assert.equal(await ok(['run', '--rm', '--mac-address', '02-42-AC-11-00-99', 'busybox', 'cat', '/sys/class/net/eth0/address']), '02:42:ac:11:00:99\n');
    // A MAC Go parses but the kernel will not assign (multicast, all zeros) is taken at create and
    // fails the start with libnetwork's words, the container left created and nothing left behind.
    for (const bad of ['01:00:00:00:00:00', '00:00:00:00:00:00']) {
      const r = await d.docker(['run', '--name', 'badmac', '--mac-address', bad, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`failed to set up container networking: failed to add interface veth[0-9a-f]+ to sandbox: error setting interface "eth0" MAC to "${bad}": cannot assign requested address`));
      assert.equal(await ok(['inspect', '-f', '{{.State.Status}} {{.NetworkSettings.Networks.bridge.IPAddress}}', 'badmac']), 'created \n');
      await ok(['rm', 'badmac']);
    }
    const bridge = await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.name=x\nlink del lo', 'badbridge']);
    assert.equal(bridge.code, 1);
    assert.match(bridge.stderr, /invalid bridge name "x\\nlink del lo"/);
    const dns = await createRaw({ Image: 'busybox', HostConfig: { DnsSearch: ['a.test\nnameserver 6.6.6.6'] } });
    assert.deepEqual(dns, { status: 400, message: 'a.test\nnameserver 6.6.6.6 is not a valid domain' });
  });
});
