/**
 * Attacks on the daemon from inside a running container: the process in it is hostile and wants
 * the daemon to act for it outside its networks, hold what it should not, or stop answering. Each
 * attack runs against one real daemon; what a container's network namespace sends is sent there
 * (nsenter into its sandbox), as a process with the container's default capabilities could.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { watch } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathExists } from '../../src/lib/path-exists.js';
import { CONFIG_FILE } from '../../src/container/store.js';
import { assertDaemonAlive, runCommand, socketRequest, startDaemon, loadBusybox, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let pid: number;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  pid = d.pid;
});

after(async () => {
  await d?.cleanup();
});

const assertAlive = (what: string) => assertDaemonAlive(d, what, { pid });

async function ok(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const sandboxOf = (name: string) => ok(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', name]);

/** Runs node's `script` (argv after it: `args`) in the network namespace at `sandbox`. */
const nodeInNetns = (sandbox: string, script: string, args: string[]) =>
  runCommand('nsenter', [`--net=${sandbox}`, process.execPath, '-e', script, ...args], { timeoutMs: 30_000 });

/** An A query for `name` (ID 0x4242), as a resolver sends it. */
function aQuery(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from('424201000001000000000000', 'hex'), ...labels, Buffer.from('0000010001', 'hex')]);
}

/**
 * Sends `query` to 127.0.0.11:53 from `spoofed`:5353 (an address the namespace was given, as a
 * raw socket, which a container has with its default NET_RAW, could claim), then the same query
 * from the container's own address, and prints the rcode of the answer to that one.
 */
const SPOOFED_DNS = `
const dgram = require('node:dgram');
const [spoofed, hex] = process.argv.slice(1);
const q = Buffer.from(hex, 'hex');
const forged = dgram.createSocket('udp4');
forged.bind(5353, spoofed, () => {
  forged.send(q, 53, '127.0.0.11', () => {
    const own = dgram.createSocket('udp4');
    own.on('message', (b) => { console.log(b[3] & 15); process.exit(0); });
    own.send(q, 53, '127.0.0.11');
  });
});`;

/** Listens on 5353 in `sandbox` and prints, as JSON, what arrived before the marker `end`. */
const UDP_SINK = `
const s = require('node:dgram').createSocket('udp4');
const got = [];
s.on('message', (b, from) => {
  if (b.toString() === 'end') { console.log(JSON.stringify(got)); process.exit(0); }
  got.push(from.address + ' ' + b.toString('hex'));
});
s.bind(5353, () => console.log('listening'));`;

test("the embedded DNS answers no query whose source is outside its network: a container on an internal network cannot make it send to another network", async () => {
  const net = 200 + (randomBytes(1)[0]! % 50);
  await ok(['network', 'create', '--internal', '--subnet', `10.${net}.1.0/24`, 'hc-internal']);
  await ok(['network', 'create', '--subnet', `10.${net}.2.0/24`, 'hc-other']);
  await ok(['run', '-d', '--name', 'hc-victim', '--network', 'hc-other', 'busybox', 'sleep', '300']);
  await ok(['run', '-d', '--name', 'hc-inside', '--network', 'hc-internal', 'busybox', 'sleep', '300']);
  const victimIp = await ok(['inspect', '-f', '{{(index .NetworkSettings.Networks "hc-other").IPAddress}}', 'hc-victim']);
  const sink = spawn('nsenter', [`--net=${await sandboxOf('hc-victim')}`, process.execPath, '-e', UDP_SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  let sinkOut = '';
  sink.stdout.on('data', (b: Buffer) => (sinkOut += b.toString()));
  const sinkDone = new Promise<void>((resolve) => sink.on('close', () => resolve()));
  try {
    await new Promise<void>((resolve) => sink.stdout.on('data', () => sinkOut.includes('listening') && resolve()));
    const inside = await sandboxOf('hc-inside');
    const addr = await runCommand('nsenter', [`--net=${inside}`, 'ip', 'addr', 'add', `${victimIp}/32`, 'dev', 'eth0']);
    assert.equal(addr.code, 0, addr.stderr);
    // The container's own name: answered by the daemon, nothing is relayed anywhere. The question,
    // which the answer repeats, is what the container chose to send out.
    const r = await nodeInNetns(inside, SPOOFED_DNS, [victimIp, aQuery('hc-inside').toString('hex')]);
    assert.equal(r.stdout.trim(), '0', `the container's own query: ${r.stdout}${r.stderr}`);
    // Its own query answered, the forged one (sent before it) has been dealt with: the marker ends the sink.
    const marker = createSocket('udp4');
    await new Promise<void>((resolve) => marker.send('end', 5353, victimIp, () => resolve()));
    marker.close();
    await sinkDone;
    assert.deepEqual(JSON.parse(sinkOut.slice(sinkOut.indexOf('\n') + 1)), [], 'the daemon answered a forged source on another network');
  } finally {
    sink.kill();
    await d.docker(['rm', '-f', 'hc-victim', 'hc-inside']);
    await d.docker(['network', 'rm', 'hc-internal', 'hc-other']);
  }
  await assertAlive('forged DNS sources');
});

test("a container that meets OOM after OOM gets an oom event for each, not a write of its record for each", async () => {
  // Each `tail` holds 30 MB of a line in an 8 MB cgroup: the OOM killer ends it (the first it
  // picks), and the loop goes on. The state (OOMKilled) changes at the first; every later write
  // of the record (an fsync each) was the container's to ask for, tens a second.
  const ctl = join(d.root, 'oom-ctl');
  await mkdir(ctl, { recursive: true });
  const id = await ok(['run', '-d', '--name', 'hc-oom', '-m', '8m', '--memory-swap', '8m', '-v', `${ctl}:/ctl`, 'busybox', 'sh', '-c',
    // Three loops: under load the OOM killer may take one of their shells too, and the storm goes on.
    'until [ -e /ctl/go ]; do sleep 0.05; done; for i in 1 2 3; do (while :; do head -c 30000000 /dev/zero | sh -c "echo 1000 >/proc/self/oom_score_adj; exec tail" >/dev/null; done) & done; wait']);
  const since = Math.floor(Date.now() / 1000) - 1;
  let writes = 0;
  const watcher = watch(join(d.dataRoot, 'containers', id), (_event, name) => {
    if (name === CONFIG_FILE) writes++;
  });
  try {
    await writeFile(join(ctl, 'go'), '');
    const ooms = async () =>
      (await ok(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000)), '--filter', 'event=oom', '--filter', `container=${id}`]))
        .split('\n')
        .filter(Boolean).length;
    const seen = await waitFor(async () => {
      const n = await ooms();
      return n >= 10 ? n : 0;
    }, { timeoutMs: 120_000, intervalMs: 200, what: '10 oom events' });
    // Under load the OOM killer may still take the container's own shell at last (its exit is one
    // more write); without the first-OOM rule every OOM was one.
    assert.ok(writes <= 3, `the record was written ${writes} times for ${seen} OOMs`);
    assert.equal(await ok(['inspect', '-f', '{{.State.OOMKilled}}', 'hc-oom']), 'true');
  } finally {
    watcher.close();
    await d.docker(['rm', '-f', 'hc-oom']);
  }
  await assertAlive('an OOM storm');
});

/** The daemon's resident memory in MiB. */
async function daemonRssMiB(): Promise<number> {
  const status = await readFile(`/proc/${d.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

test('containers logging as fast as they can, with rotated and compressed logs, do not grow the daemon', async () => {
  // conmon writes each piece of output to the log (a watch event each) and starts a new file at
  // every MiB; the daemon queued a rotation check per event, and with three such containers on two
  // cores the queue grew faster than compressions ended it (45 MiB over 3000 rotations here; the
  // daemon's own noise is under 15).
  const names = ['hc-logs1', 'hc-logs2', 'hc-logs3'];
  let rotations = 0;
  const watchers = [];
  try {
    for (const name of names) {
      const id = await ok(['run', '-d', '--name', name, '--log-opt', 'max-size=1m', '--log-opt', 'max-file=3', '--log-opt', 'compress=true',
        'busybox', 'sh', '-c', 'yes a-line-of-output-that-the-container-writes-and-writes-again']);
      const log = await ok(['inspect', '-f', '{{.LogPath}}', id]);
      watchers.push(watch(dirname(log), (event, file) => {
        if (event === 'rename' && file === basename(log)) rotations++;
      }));
    }
    await waitFor(() => rotations >= 10, { timeoutMs: 30_000, what: 'the logs to rotate' });
    const before = await daemonRssMiB();
    let peak = before;
    await waitFor(
      async () => {
        peak = Math.max(peak, await daemonRssMiB());
        return rotations >= 3000;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: '3000 rotations' },
    );
    assert.ok(peak - before < 24, `the daemon grew from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB over ${rotations} rotations`);
  } finally {
    for (const w of watchers) w.close();
    await d.docker(['rm', '-f', ...names]);
  }
  await assertAlive('a log flood with rotation');
});

test("a container's passwd and group of a million lines each do not hold the daemon while an exec reads them", async () => {
  // Every exec (and every health probe) resolves its user in the container's files, which the
  // container may grow to the 32 MiB that is read: parsed at once, they held the event loop for
  // seconds, and every other client with it.
  const ctl = join(d.root, 'passwd-ctl');
  await mkdir(ctl, { recursive: true });
  await ok(['run', '-d', '--name', 'hc-passwd', '-v', `${ctl}:/ctl`, 'busybox', 'sh', '-c',
    'yes u:x:1:1::/:/bin/sh | head -c 30000000 >/etc/passwd; yes g:x:1:root | head -c 30000000 >/etc/group; touch /ctl/ready; sleep 300']);
  try {
    await waitFor(() => pathExists(join(ctl, 'ready')), { timeoutMs: 60_000, what: 'the files to grow' });
    const started = Date.now();
    let running = true;
    const exec = d.docker(['exec', 'hc-passwd', 'true']).finally(() => (running = false));
    // The longest wait for an answer to /_ping while the exec runs.
    let longest = 0;
    while (running) {
      const t = Date.now();
      const r = await socketRequest(d.socket, 'GET', '/_ping');
      assert.equal(r.status, 200);
      longest = Math.max(longest, Date.now() - t);
    }
    const took = Date.now() - started;
    const r = await exec;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(longest < took / 4, `/_ping waited ${longest} ms during an exec of ${took} ms`);
  } finally {
    await d.docker(['rm', '-f', 'hc-passwd']);
  }
  await assertAlive('a huge passwd and group');
});
