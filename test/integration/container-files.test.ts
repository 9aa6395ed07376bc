/**
 * docker cp / diff / export / commit / pause / unpause / update against a real wharfd, through
 * the Docker CLI and the raw API, and the known escapes of the archive endpoints: a symlink to
 * `/` or `../../..` in the container, a symlink swapped in during the copy (a loop in the
 * container races the daemon), archive entries with `..`, absolute names or through a symlink.
 * Host files outside the container root are planted as bait: nothing may be read or written there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineClient } from '../../src/client/engine-client.js';
import { CLI_MAIN, cliOk, loadBusybox, runCommand, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let client: EngineClient;
let bait: string;
const SECRET = 'host-secret-' + Math.random().toString(36).slice(2);

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  client = new EngineClient({ host: d.host });
  bait = await mkdtemp(join(tmpdir(), 'wharf-bait-'));
  await writeFile(join(bait, 'secret'), SECRET);
});
after(async () => {
  client?.close();
  await d?.cleanup();
  if (bait) await rm(bait, { recursive: true, force: true });
});

const ok = (tool: 'wharf' | 'docker', args: string[]): Promise<string> => cliOk(d, tool, args);

const hasBit = (mode: number, bit: number): boolean => Math.floor(mode / bit) % 2 === 1;

async function body(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Entries of a tar: name -> content (files) or type. */
async function tarEntries(buf: Buffer): Promise<Map<string, { type: string; data: string; mode: number; uid: number }>> {
  const out = new Map<string, { type: string; data: string; mode: number; uid: number }>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => void parts.push(c as Buffer));
      stream.on('end', () => {
        out.set(h.name, { type: h.type ?? 'file', data: Buffer.concat(parts).toString(), mode: h.mode ?? 0, uid: h.uid ?? 0 });
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

async function makeTar(entries: Array<{ name: string; data?: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; mode?: number; uid?: number; gid?: number }>): Promise<Buffer> {
  // Built by hand with tar-stream, which writes names as given (`..`, absolute) unlike a safe packer.
  const pack = tar.pack();
  for (const e of entries) {
    const h = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, linkname: e.linkname, mtime: new Date(1_600_000_000_000) };
    if (e.type === 'directory' || e.type === 'symlink' || e.type === 'link') pack.entry(h);
    else pack.entry(h, Buffer.from(e.data ?? ''));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function put(container: string, path: string, tarBuf: Buffer, query: Record<string, string> = {}): Promise<{ status: number; message: string }> {
  try {
    await body(await client.request('PUT', `/containers/${container}/archive`, { query: { path, ...query }, stream: Readable.from([tarBuf]) }));
    return { status: 200, message: '' };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode ?? 0, message: (err as Error).message };
  }
}

async function get(container: string, path: string): Promise<{ status: number; tar?: Buffer; stat?: Record<string, unknown>; message?: string }> {
  try {
    const res = await client.request('GET', `/containers/${container}/archive`, { query: { path } });
    const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    return { status: res.statusCode ?? 0, tar: await body(res), stat };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode ?? 0, message: (err as Error).message };
  }
}

async function baitUntouched(): Promise<void> {
  assert.deepEqual((await readdir(bait)).sort(), ['secret'], 'nothing was written next to the bait');
  assert.equal(await readFile(join(bait, 'secret'), 'utf8'), SECRET);
}

describe('archive API', () => {
  test('GET/HEAD: stat header, rebased names, modes and owners, 404 text', async () => {
    await ok('docker', ['run', '-d', '--name', 'files', 'busybox', 'sh', '-c', 'mkdir -p /d/sub && echo hi > /d/f && chown 12:34 /d/f && chmod 4751 /d/f && echo s > /d/sub/g && ln -s d /dl && sleep 1000']);
    await waitFor(async () => (await get('files', '/dl')).status === 200, { what: 'container setup' });
    const dir = await get('files', '/d');
    assert.equal(dir.status, 200);
    assert.equal(dir.stat!.name, 'd');
    assert.ok(hasBit(Number(dir.stat!.mode), 2 ** 31), 'Go ModeDir bit');
    const entries = await tarEntries(dir.tar!);
    assert.deepEqual([...entries.keys()].sort(), ['d/', 'd/f', 'd/sub/', 'd/sub/g']);
    assert.equal(entries.get('d/f')!.data, 'hi\n');
    // Docker's archive package sets the file type bits (c_ISREG) beside the permissions.
    assert.equal(entries.get('d/f')!.mode, 0o104751);
    assert.equal(entries.get('d/f')!.uid, 12);
    // The contents only, as `docker cp c:/d/. x` asks; `./` and `/./` name the current directory too (Go's Base).
    assert.deepEqual([...(await tarEntries((await get('files', '/d/.')).tar!)).keys()].sort(), ['./', './f', './sub/', './sub/g']);
    for (const p of ['/d/./', 'd/./']) assert.deepEqual([...(await tarEntries((await get('files', p)).tar!)).keys()].sort(), ['./', './f', './sub/', './sub/g'], p);
    assert.ok((await tarEntries((await get('files', './')).tar!)).has('./d/f'), 'the root as ./');
    // A trailing `/` or `/.` needs a directory: Docker's lstat error, a 500.
    for (const p of ['/d/f/', '/d/f/.']) {
      const notDir = await get('files', p);
      assert.equal(notDir.status, 500, p);
      assert.ok(notDir.message!.includes(`lstat ${p}: not a directory`), notDir.message);
    }
    // An empty body is an empty archive (Go's tar reader sees EOF): nothing to extract, no error.
    assert.equal((await put('files', '/d', Buffer.alloc(0))).status, 200);
    // A symlink is archived as itself; its stat names the target inside the container.
    const link = await get('files', '/dl');
    assert.equal(link.stat!.linkTarget, '/d');
    assert.ok(hasBit(Number(link.stat!.mode), 2 ** 27), 'Go ModeSymlink bit');
    assert.equal([...(await tarEntries(link.tar!)).values()][0]!.type, 'symlink');
    // With a trailing slash the link is followed and the entries keep the requested name.
    assert.deepEqual([...(await tarEntries((await get('files', '/dl/')).tar!)).keys()].sort(), ['dl/', 'dl/f', 'dl/sub/', 'dl/sub/g']);
    const missing = await get('files', '/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.message!, /Could not find the file \/nope in container files/);
    const head = await client.request('HEAD', '/containers/files/archive', { query: { path: '/d/f' } });
    const st = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
    assert.equal(st.size, 3);
    assert.equal(st.mode, 0o751 + 2 ** 23, 'setuid as Go ModeSetuid');
  });

  test('GET: symlinks to / and ../../.. resolve inside the container root', async () => {
    await ok('docker', ['run', '-d', '--name', 'esc', 'busybox', 'sh', '-c', `ln -s / /root-link && ln -s ../../../../../../.. /up && mkdir -p /deep/a && ln -s ../../../../.. /deep/a/up && sleep 1000`]);
    await waitFor(async () => (await get('esc', '/deep/a/up')).status === 200, { what: 'links' });
    for (const p of [`/root-link${bait}/secret`, `/up${bait}/secret`, `/deep/a/up${bait}/secret`, `/../../..${bait}/secret`]) {
      const r = await get('esc', p);
      assert.equal(r.status, 404, `${p} must not reach the host`);
    }
    // Through the link the container's own files are reached.
    const hostname = await get('esc', '/up/etc/hostname');
    assert.equal(hostname.status, 200);
    assert.doesNotMatch(hostname.tar!.toString(), new RegExp(SECRET));
    const stat = await get('esc', '/root-link');
    assert.equal(stat.stat!.linkTarget, '/');
  });

  test('PUT: entries with .., absolute names and symlinked parents stay in the container', async () => {
    await ok('docker', ['run', '-d', '--name', 'put', 'busybox', 'sh', '-c', `ln -s ${bait} /hostdir && ln -s / /rootlink && mkdir /in && sleep 1000`]);
    // /in is made last: once it is there, so are the links.
    await waitFor(async () => (await get('put', '/in')).status === 200, { what: 'links and /in' });
    const climb = await put('put', '/in', await makeTar([{ name: '../../../../..' + bait + '/pwned', data: 'x' }]));
    assert.equal(climb.status, 400);
    // An absolute name is taken relative to the destination, as Docker does.
    const abs = await put('put', '/in', await makeTar([{ name: bait + '/abs', data: 'abs' }]));
    assert.equal(abs.status, 200, abs.message);
    // Parents through symlinks are resolved inside the container.
    assert.equal((await put('put', '/', await makeTar([{ name: 'hostdir/pwned', data: 'via link' }]))).status, 200);
    assert.equal((await put('put', '/rootlink', await makeTar([{ name: `rootlink${bait}/pwned2`, data: 'via root link' }]))).status, 200);
    // The destination itself through a symlink: resolved in the container (made there by the PUT above).
    assert.equal((await put('put', '/hostdir', await makeTar([{ name: 'pwned3', data: 'x3' }]))).status, 200);
    assert.equal((await put('put', '/nowhere-link', await makeTar([{ name: 'x', data: 'x' }]))).status, 404);
    // A symlink entry pointing out of the destination is refused (Docker's breakout rule, taken
    // chrooted in the container: `..` stops at its root, and the destination is a path prefix).
    assert.equal((await put('put', '/in', await makeTar([{ name: 'l', type: 'symlink', linkname: '../../..' }]))).status, 400);
    assert.equal((await put('put', '/in', await makeTar([{ name: 'back', type: 'symlink', linkname: '../in/x' }]))).status, 200);
    assert.equal((await put('put', '/', await makeTar([{ name: 'top', type: 'symlink', linkname: '../../../etc' }]))).status, 200);
    assert.equal(await ok('docker', ['exec', 'put', 'sh', '-c', 'readlink /in/back; readlink /top']), '../in/x\n../../../etc\n');
    await baitUntouched();
    const inside = await ok('docker', ['exec', 'put', 'sh', '-c', `cat /in${bait}/abs ${bait}/pwned ${bait}/pwned3; echo; cat ${bait}/rootlink${bait}/pwned2 2>/dev/null || find / -name pwned2 -xdev`]);
    assert.match(inside, /abs/);
    assert.match(inside, /via link/);
    assert.match(inside, /x3/);
    assert.match(inside, /pwned2|via root link/);
  });

  test('a symlink swapped in during the copy never leads out (race)', async () => {
    // The container flips /race/d between a directory and a symlink to the bait dir, as fast as it can.
    await ok('docker', ['run', '-d', '--name', 'race', 'busybox', 'sh', '-c', `mkdir -p /race; while true; do rm -rf /race/d; mkdir /race/d; echo inside > /race/d/secret; rm -rf /race/d; ln -s ${bait} /race/d; done`]);
    let inside = 0;
    for (let i = 0; i < 150; i++) {
      const r = await get('race', '/race/d/secret');
      if (r.status === 200) {
        assert.doesNotMatch(r.tar!.toString(), new RegExp(SECRET), `iteration ${i} read the host file`);
        inside++;
      }
      const w = await put('race', '/race/d', await makeTar([{ name: `w${i}`, data: 'x' }, { name: `sub/w${i}`, data: 'y' }]));
      assert.ok([200, 404, 400, 500].includes(w.status), `unexpected ${w.status} ${w.message}`);
    }
    await baitUntouched();
    assert.ok(inside >= 0);
    await ok('docker', ['rm', '-f', 'race']);
  });

  test('stopped container: cp both ways with the Docker CLI, rootfs unmounted after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cp-'));
    try {
      await ok('docker', ['create', '--name', 'stopped', 'busybox', 'true']);
      await writeFile(join(dir, 'local.txt'), 'from host');
      await ok('docker', ['cp', join(dir, 'local.txt'), 'stopped:/etc/copied.txt']);
      await ok('docker', ['cp', 'stopped:/etc/copied.txt', join(dir, 'back.txt')]);
      assert.equal(readFileSync(join(dir, 'back.txt'), 'utf8'), 'from host');
      await ok('docker', ['cp', 'stopped:/etc', join(dir, 'etc-copy')]);
      assert.ok(existsSync(join(dir, 'etc-copy', 'passwd')));
      const tarOut = await d.docker(['cp', 'stopped:/etc/copied.txt', '-']);
      assert.equal(tarOut.code, 0);
      assert.match(tarOut.stdout, /from host/);
      const merged = (await ok('docker', ['inspect', '-f', '{{.GraphDriver.Data.MergedDir}}', 'stopped'])).trim();
      await waitFor(async () => !readFileSync('/proc/self/mountinfo', 'utf8').includes(merged), { what: 'stopped container rootfs unmounted after cp' });
      const bad = await d.docker(['cp', 'stopped:/no/such', dir]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Could not find the file \/no\/such in container stopped/);
      // A created container's working directory is there before any start, as Docker makes it at create.
      await ok('docker', ['create', '--name', 'withwd', '-w', '/home/foo/bar', 'busybox', 'true']);
      await ok('docker', ['cp', join(dir, 'local.txt'), 'withwd:/home/foo/bar/']);
      await ok('docker', ['cp', 'withwd:/home/foo/bar', join(dir, 'wd-copy')]);
      assert.equal(readFileSync(join(dir, 'wd-copy', 'local.txt'), 'utf8'), 'from host');
      await ok('docker', ['rm', 'withwd']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('diff, export, commit', () => {
  test('diff shows A/C/D; export is the whole filesystem; commit makes an image', async () => {
    await ok('docker', ['run', '-d', '--name', 'chg', 'busybox', 'sh', '-c', 'rm /bin/cat; mkdir /newdir; echo n > /newdir/x; echo m >> /etc/motd-new; rm -rf /var; mkdir /var; echo o > /var/only; sleep 1000']);
    await waitFor(async () => (await ok('docker', ['diff', 'chg'])).includes('A /newdir/x'), { what: 'changes' });
    const diff = (await ok('docker', ['diff', 'chg'])).split('\n');
    assert.ok(diff.includes('C /bin') && diff.includes('D /bin/cat') && diff.includes('A /newdir') && diff.includes('A /newdir/x'), diff.join('\n'));
    // /var made again over the image's: overlayfs marks it opaque, and what the image had there is gone.
    for (const line of ['C /var', 'A /var/only', 'D /var/spool', 'D /var/www']) assert.ok(diff.includes(line), `${line} in\n${diff.join('\n')}`);
    const changes = JSON.parse((await body(await client.request('GET', '/containers/chg/changes'))).toString()) as Array<{ Path: string; Kind: number }>;
    assert.deepEqual(changes.find((c) => c.Path === '/bin/cat'), { Path: '/bin/cat', Kind: 2 });
    assert.deepEqual(changes.find((c) => c.Path === '/newdir'), { Path: '/newdir', Kind: 1 });

    const out = await mkdtemp(join(tmpdir(), 'wharf-export-'));
    try {
      await ok('docker', ['export', '-o', join(out, 'fs.tar'), 'chg']);
      const entries = await tarEntries(await readFile(join(out, 'fs.tar')));
      assert.equal(entries.get('newdir/x')?.data, 'n\n');
      assert.ok(entries.has('bin/sh') && !entries.has('bin/cat'));
    } finally {
      await rm(out, { recursive: true, force: true });
    }

    const id = (await ok('docker', ['commit', '-a', 'tester', '-m', 'a message', '-c', 'ENV COMMITTED=yes', '-c', 'LABEL made=commit', '-c', 'ENV PATH=/opt/bin:$PATH', 'chg', 'committed:v1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await ok('docker', ['inspect', '-f', '{{.State.Paused}} {{.State.Running}}', 'chg'])).trim(), 'false true', 'unpaused after commit');
    const img = JSON.parse(await ok('docker', ['image', 'inspect', 'committed:v1']))[0];
    assert.equal(img.Author, 'tester');
    assert.equal(img.Comment, 'a message');
    assert.equal(img.Config.Labels.made, 'commit');
    assert.ok(img.Config.Env.includes('COMMITTED=yes'));
    // The change sees the container's variables, as Docker runs it through its Dockerfile dispatcher.
    const basePath = JSON.parse(await ok('docker', ['inspect', 'chg']))[0].Config.Env.find((e: string) => e.startsWith('PATH='));
    assert.ok(img.Config.Env.includes(`PATH=/opt/bin:${basePath.slice(5)}`), img.Config.Env.join(' '));
    const run = await d.docker(['run', '--rm', 'committed:v1', 'sh', '-c', 'cat /newdir/x; echo $COMMITTED; test -e /bin/cat || echo nocat; ls /var']);
    assert.equal(run.stdout, 'n\nyes\nnocat\nonly\n', run.stderr);
    const history = await ok('docker', ['history', '--format', '{{.Comment}}', 'committed:v1']);
    assert.match(history.split('\n')[0]!, /a message/);
    await ok('docker', ['rm', '-f', 'chg']);
  });

  test('ps --filter ancestor matches containers of images built on it, at any depth', async () => {
    await ok('docker', ['run', '--name', 'anc1', 'busybox', 'true']);
    await ok('docker', ['commit', 'anc1', 'anc-child']);
    await ok('docker', ['run', '--name', 'anc2', 'anc-child', 'true']);
    await ok('docker', ['commit', 'anc2', 'anc-grandchild']);
    await ok('docker', ['run', '--name', 'anc3', 'anc-grandchild', 'true']);
    const names = async (ref: string) =>
      (await ok('docker', ['ps', '-a', '--filter', `ancestor=${ref}`, '--filter', 'name=anc', '--format', '{{.Names}}'])).trim().split('\n').sort();
    assert.deepEqual(await names('busybox'), ['anc1', 'anc2', 'anc3']);
    assert.deepEqual(await names('anc-child'), ['anc2', 'anc3']);
    assert.deepEqual(await names('anc-grandchild'), ['anc3']);
    await ok('docker', ['rm', 'anc1', 'anc2', 'anc3']);
    await ok('docker', ['rmi', 'anc-grandchild', 'anc-child']);
  });

  test("the init layer keeps the owner and mode of the image's /etc", async () => {
    await ok('docker', ['run', '--name', 'owned', 'busybox', 'sh', '-c', 'chown 1000:1001 /etc && chmod 0750 /etc']);
    await ok('docker', ['commit', 'owned', 'owned-etc']);
    const r = await d.docker(['run', '--rm', 'owned-etc', 'sh', '-c', "stat -c '%u:%g %a' /etc && test -e /.dockerenv && test -d /proc && test -f /etc/hosts && echo ok"]);
    assert.equal(r.stdout, '1000:1001 750\nok\n', r.stderr);
    await ok('docker', ['rm', 'owned']);
    await ok('docker', ['rmi', 'owned-etc']);
  });

  test("ps shows the image ID once the container's reference names another image", async () => {
    await ok('docker', ['tag', 'busybox', 'retag:one']);
    await ok('docker', ['create', '--name', 'retag1', 'retag:one', 'true']);
    const shown = async () => (await ok('docker', ['ps', '-a', '--no-trunc', '--filter', 'name=retag1', '--format', '{{.Image}}'])).trim();
    assert.equal(await shown(), 'retag:one');
    const busybox = (await ok('docker', ['inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    await ok('docker', ['commit', 'retag1', 'retag:one']);
    assert.equal(await shown(), busybox);
    await ok('docker', ['rmi', 'retag:one']);
    assert.equal(await shown(), busybox);
    await ok('docker', ['rm', 'retag1']);
  });
});

describe('pause, unpause, update', () => {
  test('pause freezes, ps says (Paused), errors as Docker, stop of a paused container works', async () => {
    await ok('docker', ['run', '-d', '--name', 'pz', 'busybox', 'sh', '-c', 'while true; do date +%s%N > /tick; sleep 0.05; done']);
    // Docker 28's kill: a number outside the platform's signals has its own message, the signal is
    // checked before the container is looked up, and both errors carry the container's name.
    // top with ps_args ps refuses: Docker keeps only the first line of ps's stderr.
    const badTop = await d.docker(['top', 'pz', 'bogus-zz']);
    assert.equal(badTop.code, 1);
    assert.match(badTop.stderr, /Error response from daemon: ps: error: unsupported option/);
    assert.doesNotMatch(badTop.stderr, /Usage/);
    const badNum = await d.docker(['kill', '-s', '99', 'pz']);
    assert.equal(badNum.code, 1);
    assert.match(badNum.stderr, /cannot kill container: pz: the linux daemon does not support signal 99/);
    assert.match((await d.docker(['kill', '-s', 'FOO', 'nosuch'])).stderr, /cannot kill container: nosuch: invalid signal: FOO/);
    // 32 parses but Linux has no such signal (glibc's own).
    assert.match((await d.docker(['kill', '-s', '32', 'pz'])).stderr, /cannot kill container: pz: the linux daemon does not support signal 32/);
    // A stop signal Linux lacks is accepted at create, as moby parses it; the stop cannot send it
    // and kills after 2 s instead of the timeout.
    await ok('docker', ['run', '-d', '--name', 'sig99', '--stop-signal', '99', '--stop-timeout', '60', 'busybox', 'sleep', '1000']);
    await ok('docker', ['stop', 'sig99']);
    assert.equal((await ok('docker', ['inspect', '-f', '{{.State.ExitCode}}', 'sig99'])).trim(), '137');
    await ok('docker', ['rm', 'sig99']);
    await ok('docker', ['pause', 'pz']);
    assert.equal((await ok('docker', ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pz'])).trim(), 'paused true');
    assert.match(await ok('docker', ['ps', '--filter', 'name=pz', '--format', '{{.Status}}']), /\(Paused\)/);
    const frozen1 = (await get('pz', '/tick')).tar!.toString();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get('pz', '/tick')).tar!.toString(), frozen1, 'no tick while paused');
    const again = await d.docker(['pause', 'pz']);
    assert.match(again.stderr, /Container [0-9a-f]{64} is already paused/);
    await ok('docker', ['unpause', 'pz']);
    const not = await d.docker(['unpause', 'pz']);
    assert.match(not.stderr, /Container [0-9a-f]{64} is not paused/);
    await ok('docker', ['pause', 'pz']);
    await ok('docker', ['stop', '-t', '1', 'pz']);
    assert.equal((await ok('docker', ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pz'])).trim(), 'exited false');
    const stopped = await d.docker(['pause', 'pz']);
    assert.match(stopped.stderr, /container [0-9a-f]{64} is not running/);
    await ok('docker', ['run', '-d', '--name', 'pk', 'busybox', 'sleep', '1000']);
    await ok('docker', ['pause', 'pk']);
    await ok('docker', ['kill', 'pk']);
    await waitFor(async () => (await ok('docker', ['inspect', '-f', '{{.State.Status}}', 'pk'])).trim() === 'exited', { what: 'killed while paused' });
  });

  test('update changes the running container cgroup and persists', async () => {
    await ok('docker', ['run', '-d', '--name', 'up', '--memory', '32m', 'busybox', 'sleep', '1000']);
    const pid = Number((await ok('docker', ['inspect', '-f', '{{.State.Pid}}', 'up'])).trim());
    await ok('docker', ['update', '--memory', '64m', '--memory-swap', '128m', '--cpus', '0.5', '--cpu-shares', '512', '--pids-limit', '42', '--restart', 'on-failure:3', 'up']);
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const path = (ctrl: string) => {
      const line = cg.split('\n').find((l) => l.split(':')[1]?.split(',').includes(ctrl));
      return line ? `/sys/fs/cgroup/${line.split(':')[1]}${line.split(':')[2]}` : null;
    };
    const v2 = cg.split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    if (path('memory') && existsSync(path('memory')!)) {
      assert.equal(readFileSync(join(path('memory')!, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
      assert.equal(readFileSync(join(path('pids')!, 'pids.max'), 'utf8').trim(), '42');
      assert.equal(readFileSync(join(path('cpu')!, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
      assert.equal(readFileSync(join(path('cpu')!, 'cpu.shares'), 'utf8').trim(), '512');
    } else {
      assert.equal(readFileSync(`/sys/fs/cgroup${v2}/memory.max`, 'utf8').trim(), String(64 * 1024 * 1024));
      assert.equal(readFileSync(`/sys/fs/cgroup${v2}/pids.max`, 'utf8').trim(), '42');
    }
    const hc = JSON.parse(await ok('docker', ['inspect', '-f', '{{json .HostConfig}}', 'up']));
    assert.equal(hc.Memory, 64 * 1024 * 1024);
    assert.equal(hc.NanoCpus, 5e8);
    assert.equal(hc.PidsLimit, 42);
    assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    // moby's update answers a nil slice when it has no warnings.
    const plain = await socketRequest(d.socket, 'POST', '/containers/up/update', { body: { CpuShares: 256 } });
    assert.deepEqual([plain.status, plain.body.trim()], [200, '{"Warnings":null}']);
    const bad = await d.docker(['update', '--memory', '256m', 'up']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Memory limit should be smaller than already set memoryswap limit/);
    await ok('docker', ['rm', '-f', 'up']);
  });
});

describe('wharf CLI', () => {
  test('cp both ways with directory rules and -, diff, export -o, commit, pause/unpause, update', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cli-cp-'));
    try {
      await ok('wharf', ['run', '-d', '--name', 'cli', 'busybox', 'sh', '-c', 'mkdir -p /src/sub && echo one > /src/a && echo two > /src/sub/b && chmod 600 /src/a && sleep 1000']);
      await waitFor(async () => (await d.wharf(['cp', 'cli:/src/sub/b', '-'])).code === 0, { what: 'setup' });
      await ok('wharf', ['cp', 'cli:/src', join(dir, 'copy')]);
      assert.equal(readFileSync(join(dir, 'copy', 'sub', 'b'), 'utf8'), 'two\n');
      assert.equal(statMode(join(dir, 'copy', 'a')), 0o600);
      await ok('wharf', ['cp', 'cli:/src', dir]);
      assert.equal(readFileSync(join(dir, 'src', 'a'), 'utf8'), 'one\n');
      await ok('wharf', ['cp', 'cli:/src/.', join(dir, 'copy')]);
      assert.ok(existsSync(join(dir, 'copy', 'a')) && !existsSync(join(dir, 'copy', 'src')));
      const tarOut = await d.wharf(['cp', 'cli:/src/a', '-']);
      assert.match(tarOut.stdout, /one/);
      await writeFile(join(dir, 'up.txt'), 'uploaded');
      await ok('wharf', ['cp', join(dir, 'up.txt'), 'cli:/src/']);
      await ok('wharf', ['cp', join(dir, 'up.txt'), 'cli:/renamed.txt']);
      await ok('wharf', ['cp', join(dir, 'copy'), 'cli:/newdir']);
      const seen = await ok('docker', ['exec', 'cli', 'sh', '-c', 'cat /src/up.txt /renamed.txt /newdir/sub/b']);
      assert.equal(seen, 'uploadeduploadedtwo\n');
      assert.match(await ok('wharf', ['diff', 'cli']), /^A \/renamed.txt$/m);
      await ok('wharf', ['export', '-o', join(dir, 'e.tar'), 'cli']);
      assert.ok((await tarEntries(await readFile(join(dir, 'e.tar')))).has('renamed.txt'));
      const id = (await ok('wharf', ['commit', '-m', 'cli commit', '-c', 'ENV X=1', 'cli', 'clicommit:1'])).trim();
      assert.match(id, /^sha256:/);
      await ok('wharf', ['pause', 'cli']);
      assert.match(await ok('wharf', ['ps', '--format', '{{.Status}}', '--filter', 'name=cli']), /\(Paused\)/);
      await ok('wharf', ['unpause', 'cli']);
      await ok('wharf', ['update', '--pids-limit', '33', '--restart', 'always', 'cli']);
      assert.equal((await ok('wharf', ['inspect', '-f', '{{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}', 'cli'])).trim(), '33 always');
      const bad = await d.wharf(['unpause', 'cli']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /is not paused/);
      await ok('wharf', ['rm', '-f', 'cli']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('wharf cp from a container: the safe extractor', () => {
  test('a local symlink left by an earlier cp is never written through; a large file streams to disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cli-cp-safe-'));
    // Stands for the host's /etc: the container's symlink names it by its host path.
    const bait = join(dir, 'bait');
    const dest = join(dir, 'dest');
    try {
      await mkdir(bait);
      await mkdir(dest);
      await writeFile(join(bait, 'shadow'), 'secret\n', { mode: 0o600 });
      await ok('wharf', ['run', '-d', '--name', 'cpsafe', 'busybox', 'sh', '-c', `mkdir /src && ln -s ${bait} /src/d && dd if=/dev/zero of=/src/big bs=1M count=192 2>/dev/null && touch /ready && sleep 1000`]);
      await waitFor(async () => (await d.wharf(['cp', 'cpsafe:/ready', '-'])).code === 0, { what: 'setup' });
      // The symlink comes out as a symlink, with its target as it is (absolute targets are not a breakout).
      const first = await runCommand('/usr/bin/time', ['-f', '%M', process.execPath, CLI_MAIN, 'cp', 'cpsafe:/src', dest], { env: { DOCKER_HOST: d.host, WHARF_HOST: d.host } });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(readlinkSync(join(dest, 'src/d')), bait);
      assert.equal(statSync(join(dest, 'src/big')).size, 192 << 20);
      // Streamed: the CLI never holds the file (192 MiB) in memory.
      const maxRssKiB = Number(first.stderr.trim().split('\n').pop());
      assert.ok(maxRssKiB > 0 && maxRssKiB < 150 * 1024, `wharf cp peak RSS ${maxRssKiB} KiB`);
      // The container makes /src/d a directory: a second cp must not write through the local symlink.
      await ok('docker', ['exec', 'cpsafe', 'sh', '-c', 'rm /src/d /src/big && mkdir /src/d && echo pwned > /src/d/shadow']);
      await d.wharf(['cp', 'cpsafe:/src', dest]);
      assert.equal(readFileSync(join(bait, 'shadow'), 'utf8'), 'secret\n');
      assert.deepEqual(await readdir(bait), ['shadow']);
      await ok('wharf', ['rm', '-f', 'cpsafe']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function statMode(p: string): number {
  return statSync(p).mode & 0o7777;
}

