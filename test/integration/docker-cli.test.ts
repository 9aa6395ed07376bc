/**
 * The real Docker CLI (/usr/local/bin/docker, 28.x) against wharfd: the same output shapes and
 * exit codes as against Docker's own engine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliOk, loadBusybox, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildBusyboxRootfsTar } from '../fixtures/busybox.js';
import { buildDockerArchive } from '../fixtures/docker-archive.js';
import { readFile } from 'node:fs/promises';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const ok = (args: string[], input?: string): Promise<string> => cliOk(d, 'docker', args, { input });

describe('docker CLI against wharfd', () => {
  test('version negotiates the API', async () => {
    const out = await ok(['version', '--format', '{{.Server.APIVersion}} {{.Client.APIVersion}}']);
    assert.equal(out.trim(), '1.51 1.50');
  });

  test('run --rm echo hi', async () => {
    assert.equal(await ok(['run', '--rm', 'busybox', 'echo', 'hi']), 'hi\n');
    assert.equal(await ok(['ps', '-aq']), '');
  });

  test('--gpus and CDI devices are refused at start, as Docker without a device driver refuses them', async () => {
    for (const [args, message] of [
      [['--gpus', 'all'], 'could not select device driver "" with capabilities: [[gpu]]'],
      [['--gpus', '"device=0,1","capabilities=compute,utility"'], 'could not select device driver "" with capabilities: [[compute utility gpu]]'],
      [['--device', 'vendor.example/gpu=all'], 'could not select device driver "cdi" with capabilities: []'],
    ] as const) {
      const r = await d.docker(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`^docker: Error response from daemon: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'), args.join(' '));
    }
    // The request is kept as Docker keeps it.
    const id = (await ok(['create', '--gpus', 'count=2', 'busybox', 'true'])).trim();
    assert.equal((await ok(['inspect', '-f', '{{json .HostConfig.DeviceRequests}}', id])).trim(), '[{"Driver":"","Count":2,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":{}}]');
    await ok(['rm', id]);
  });

  test('exit codes: container code, 125, 126, 127', async () => {
    assert.equal((await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 4'])).code, 4);
    const nf = await d.docker(['run', '--rm', 'busybox', 'nosuchcmd']);
    assert.equal(nf.code, 127);
    // Docker's words through containerd's shim, then runc's own.
    assert.match(
      nf.stderr,
      /^docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: (error during container init: )?exec: "nosuchcmd": executable file not found in \$PATH: unknown\.?$/m,
    );
    assert.equal((await d.docker(['run', '--rm', 'busybox', '/etc'])).code, 126);
    // A failed start is not an exit: the CLI's pending wait gets no answer to complain about.
    const kept = await d.docker(['run', '--name', 'nostart', 'busybox', 'nosuchcmd']);
    assert.equal(kept.code, 127);
    assert.doesNotMatch(kept.stderr, /Error waiting for container/);
    assert.equal((await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'nostart'])).stdout, 'created 127\n');
    assert.equal((await d.docker(['rm', 'nostart'])).code, 0);
    const img = await d.docker(['run', '--rm', '--pull', 'never', 'nosuchimage', 'true']);
    assert.equal(img.code, 125);
    assert.match(img.stderr, /No such image: nosuchimage:latest/);
  });

  test('stdin with -i', async () => {
    assert.equal(await ok(['run', '--rm', '-i', 'busybox', 'cat'], 'piped\n'), 'piped\n');
  });

  test('run -it under a pty', async () => {
    // `script` gives the CLI a real terminal; the container sees a tty of the right size.
    const out = execFileSync('script', ['-qec', `stty cols 91 rows 27; ${'/usr/local/bin/docker'} run --rm -it busybox sh -c 'tty; stty size'`, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.match(out, /27 91/);
  });

  test('run -d, ps -a, logs, inspect -f, stop, rm -f', async () => {
    const id = (await ok(['run', '-d', '--name', 'dk', 'busybox', 'sh', '-c', 'echo hello from dk; exec sleep 100'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await ok(['ps', '-a']);
    const [header, row] = ps.split('\n');
    assert.match(header!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(row!, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'echo hello f…"\\s+.+ago\\s+Up .+\\s+dk$`));
    let logs = '';
    for (let i = 0; i < 100 && logs === ''; i++) logs = await ok(['logs', 'dk']);
    assert.equal(logs, 'hello from dk\n');
    assert.equal((await ok(['inspect', '-f', '{{.State.Running}} {{.Config.Image}}', 'dk'])).trim(), 'true busybox');
    assert.equal((await ok(['stop', '-t', '1', 'dk'])).trim(), 'dk');
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'dk'])).trim(), 'exited');
    assert.equal((await ok(['rm', '-f', 'dk'])).trim(), 'dk');
    const gone = await d.docker(['inspect', 'dk']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: dk/);
  });

  test('images and load of a docker-save archive', async () => {
    const images = await ok(['images']);
    assert.match(images.split('\n')[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(images, /^busybox\s+latest\s+[0-9a-f]{12}\s+/m);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-load-'));
    try {
      const rootfs = join(dir, 'rootfs.tar');
      await buildBusyboxRootfsTar(rootfs);
      const { archive } = await buildDockerArchive({
        layers: [await readFile(rootfs)],
        repoTags: ['loaded:v1'],
        config: { config: { Cmd: ['echo', 'from loaded'] } },
        format: 'docker28',
      });
      const tar = join(dir, 'image.tar');
      await writeFile(tar, archive);
      assert.match(await ok(['load', '-i', tar]), /Loaded image: loaded:v1/);
      assert.equal(await ok(['run', '--rm', 'loaded:v1']), 'from loaded\n');
      await ok(['rmi', 'loaded:v1']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('save and load keep parent links inside the archive, and load leaves LastTagTime alone', async () => {
    const commitOf = async (from: string, file: string) => {
      const id = (await ok(['run', '-d', from, 'touch', file])).trim();
      await ok(['wait', id]);
      const img = (await ok(['commit', id])).trim();
      await ok(['rm', '-f', id]);
      return img;
    };
    const foo = await commitOf('busybox', '/foo');
    const bar = await commitOf(foo, '/bar');
    await ok(['tag', bar, 'parents:bar']);
    const tagTime = (await ok(['inspect', '-f', '{{.Metadata.LastTagTime}}', 'parents:bar'])).trim();
    const dir = await mkdtemp(join(tmpdir(), 'wharf-save-'));
    try {
      const tar = join(dir, 'out.tar');
      await ok(['save', '-o', tar, 'parents:bar', foo]);
      const manifest = JSON.parse(execFileSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Config: string; Parent?: string }>;
      assert.deepEqual(manifest.map((m) => [m.Config.slice(-64), m.Parent]).sort(), [[bar.slice(7), foo], [foo.slice(7), undefined]].sort());
      // Loaded over the same image and tag: nothing changes, LastTagTime included.
      await ok(['load', '-i', tar]);
      assert.equal((await ok(['inspect', '-f', '{{.Metadata.LastTagTime}}', 'parents:bar'])).trim(), tagTime);
      await ok(['rmi', 'parents:bar']);
      await ok(['load', '-i', tar]);
      assert.equal((await ok(['inspect', '-f', '{{.Parent}}', bar])).trim(), foo);
      assert.equal((await ok(['inspect', '-f', '{{.Parent}}', foo])).trim(), '');
      assert.equal((await ok(['inspect', '-f', '{{.Metadata.LastTagTime}}', 'parents:bar'])).trim(), '0001-01-01 00:00:00 +0000 UTC');
      // Saved without its parent, an image loads without the link.
      await ok(['save', '-o', tar, 'parents:bar']);
      assert.equal(JSON.parse(execFileSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' }))[0].Parent, undefined);
    } finally {
      await d.docker(['rmi', '-f', 'parents:bar', foo]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('import from a URL: the daemon fetches it; a 404, a refused connection or another scheme fail', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-import-url-'));
    const rootfs = join(dir, 'rootfs.tar');
    await buildBusyboxRootfsTar(rootfs);
    const body = await readFile(rootfs);
    const server = createServer((req, res) => {
      if (req.url === '/rootfs.tar') res.end(body);
      else res.writeHead(404).end('no such file here\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const out = await ok(['import', '-c', 'CMD ["echo", "from url"]', `http://127.0.0.1:${port}/rootfs.tar`, 'fromurl:1']);
      assert.match(out, /^sha256:[0-9a-f]{64}\n$/m);
      assert.equal(await ok(['run', '--rm', 'fromurl:1']), 'from url\n');
      assert.equal((await ok(['inspect', '-f', '{{.Comment}}', 'fromurl:1'])).trim(), `Imported from http://127.0.0.1:${port}/rootfs.tar`);
      // The wharf CLI sends a URL the same way.
      const w = await d.wharf(['import', `http://127.0.0.1:${port}/rootfs.tar`, 'fromurl:2']);
      assert.equal(w.code, 0, w.stderr);
      const missing = await d.docker(['import', `http://127.0.0.1:${port}/nope.tar`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, new RegExp(`failed to GET http://127\\.0\\.0\\.1:${port}/nope\\.tar with status 404 Not Found: no such file here`));
      // A port that was just free: nothing listens there.
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const closedPort = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const refused = await socketRequest(d.socket, 'POST', `/images/create?fromSrc=${encodeURIComponent(`127.0.0.1:${closedPort}/x.tar`)}`);
      assert.equal(refused.status, 500);
      assert.match(refused.body, new RegExp(`Get \\\\"http://127\\.0\\.0\\.1:${closedPort}/x\\.tar\\\\": dial tcp 127\\.0\\.0\\.1:${closedPort}: connect: connection refused`));
      const file = await socketRequest(d.socket, 'POST', `/images/create?fromSrc=${encodeURIComponent('file:///etc/passwd')}`);
      assert.equal(file.status, 500);
      assert.match(file.body, /unsupported protocol scheme/);
    } finally {
      server.close();
      await d.docker(['rmi', 'fromurl:1', 'fromurl:2']);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('errors for unknown containers and name conflicts', async () => {
    const a = await d.docker(['logs', 'nosuch']);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /Error response from daemon: No such container: nosuch/);
    await ok(['create', '--name', 'dup', 'busybox', 'true']);
    const b = await d.docker(['create', '--name', 'dup', 'busybox', 'true']);
    assert.equal(b.code, 1, 'docker create reports daemon errors with exit 1');
    const w = await d.wharf(['create', '--name', 'dup', 'busybox', 'true']);
    assert.equal(w.code, 1);
    assert.equal(w.stderr, b.stderr, 'wharf prints what docker prints');
    assert.match(b.stderr, /Conflict\. The container name "\/dup" is already in use/);
    await ok(['rm', 'dup']);
  });

  test('ps -s and inspect -s: the container layer and, virtual, the image under it', async () => {
    await ok(['run', '-d', '--name', 'sized', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /big; exec sleep 100']);
    const imageSize = Number(await ok(['image', 'inspect', '-f', '{{.Size}}', 'busybox']));
    const sizes = await waitFor(
      async () => {
        const [rw, root] = (await ok(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'sized'])).trim().split(' ').map(Number);
        return rw === 5000 ? { rw, root: root! } : undefined;
      },
      { what: 'the 5000-byte file in the container layer' },
    );
    assert.equal(sizes.root, sizes.rw + imageSize);
    assert.match(await ok(['ps', '-s', '--filter', 'name=sized']), /\s5kB \(virtual 1\.9\dMB\)\n$/);
    await ok(['rm', '-f', 'sized']);
  });

  test('--log-opt max-size keeps the log under its limit; unknown drivers and options are refused', async () => {
    const id = (await ok(['run', '-d', '--log-opt', 'max-size=2k', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i-padding-padding; i=$((i+1)); done; exec sleep 100'])).trim();
    const logs = await waitFor(
      async () => {
        const out = await ok(['logs', id]);
        return out.includes('line-299-') ? out : undefined;
      },
      { what: 'the last line in the log' },
    );
    assert.doesNotMatch(logs, /^line-0-/m, 'the start of the output is gone');
    assert.ok(Buffer.byteLength(logs) < 2048, `${Buffer.byteLength(logs)} bytes of log`);
    const { size } = await stat((await ok(['inspect', '-f', '{{.LogPath}}', id])).trim());
    assert.ok(size <= 2048, `log file of ${size} bytes`);
    await ok(['rm', '-f', id]);
    const syslog = await d.docker(['run', '--rm', '--log-driver', 'syslog', 'busybox', 'true']);
    assert.equal(syslog.code, 125);
    assert.match(syslog.stderr, /Error response from daemon: logger: no log driver named 'syslog' is registered/);
    const opt = await d.docker(['run', '--rm', '--log-opt', 'foo=bar', 'busybox', 'true']);
    assert.equal(opt.code, 125);
    assert.match(opt.stderr, /unknown log opt 'foo' for json-file log driver/);
    assert.equal(await ok(['ps', '-aq']), '', 'a refused create leaves no container');
    // A bad option value is the logger's to find when the container starts, as in Docker.
    const badSize = (await ok(['create', '--name', 'badsize', '--log-opt', 'max-size=bogus', 'busybox', 'true'])).trim();
    const start = await d.docker(['start', 'badsize']);
    assert.deepEqual([start.code, start.stderr.trim()], [1, "Error response from daemon: failed to initialize logging driver: invalid size: 'bogus'\nError: failed to start containers: badsize"]);
    assert.equal(await ok(['inspect', '-f', '{{.State.ExitCode}} {{.State.Status}}', badSize]), '128 created\n');
    await ok(['rm', badSize]);
  });

  test("the daemon's log-opts from daemon.json apply to containers that set none", async () => {
    const d2 = await startDaemon({ config: { 'log-opts': { 'max-size': '2k' } } });
    try {
      await loadBusybox(d2);
      const info = await d2.docker(['info', '-f', '{{.LoggingDriver}}']);
      assert.equal(info.stdout, 'json-file\n');
      const id = (await d2.docker(['create', 'busybox', 'true'])).stdout.trim();
      const lc = await d2.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id]);
      assert.deepEqual(JSON.parse(lc.stdout), { Type: 'json-file', Config: { 'max-size': '2k' } });
      const own = (await d2.docker(['create', '--log-opt', 'max-size=1m', 'busybox', 'true'])).stdout.trim();
      const lc2 = await d2.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', own]);
      assert.deepEqual(JSON.parse(lc2.stdout), { Type: 'json-file', Config: { 'max-size': '1m' } });
    } finally {
      await d2.cleanup();
    }
  });

  test('system prune: stopped containers go, running ones and their image stay, no build cache to prune', async () => {
    await ok(['run', '-d', '--name', 'keep', 'busybox', 'sleep', '100']);
    await ok(['run', '--name', 'gone', 'busybox', 'true']);
    const out = await ok(['system', 'prune', '-f']);
    assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n/);
    assert.match(out, /Total reclaimed space: /);
    assert.equal((await ok(['ps', '-a', '--format', '{{.Names}}'])).trim(), 'keep');
    await ok(['rm', '-f', 'keep']);
  });
});
