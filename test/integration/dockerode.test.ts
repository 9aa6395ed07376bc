/**
 * dockerode (a real Engine API client library) drives create/start/attach/wait/logs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

test('dockerode: create, attach, start, wait, logs, inspect, remove', async () => {
  const docker = new Docker({ socketPath: d.socket });
  const container = await docker.createContainer({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 9'],
    Labels: { via: 'dockerode' },
  });
  const stream = await container.attach({ stream: true, stdout: true, stderr: true, hijack: true });
  const out = new PassThrough();
  const err = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => outChunks.push(c));
  err.on('data', (c: Buffer) => errChunks.push(c));
  docker.modem.demuxStream(stream, out, err);
  const ended = new Promise((r) => stream.on('end', r));
  const waited = container.wait({ condition: 'next-exit' });
  await container.start();
  const result = (await waited) as { StatusCode: number };
  await ended;
  assert.equal(result.StatusCode, 9);
  assert.equal(Buffer.concat(outChunks).toString(), 'to-out\n');
  assert.equal(Buffer.concat(errChunks).toString(), 'to-err\n');

  const logs = (await container.logs({ stdout: true, stderr: false, follow: false })) as Buffer;
  // Multiplexed: 8-byte header, stream 1, then the line.
  assert.equal(logs[0], 1);
  assert.equal(logs.subarray(8).toString(), 'to-out\n');

  const info = await container.inspect();
  assert.equal(info.State.ExitCode, 9);
  assert.equal(info.Config.Labels.via, 'dockerode');
  const listed = await docker.listContainers({ all: true, filters: { label: ['via=dockerode'] } });
  assert.deepEqual(listed.map((c) => c.Id), [info.Id]);
  await container.remove();
  await assert.rejects(container.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test("dockerode: stdin through a hijacked attach is only what the client writes, not the request's body", async () => {
  // dockerode sends the attach options as a JSON body on the upgraded request; Docker drops it.
  const docker = new Docker({ socketPath: d.socket });
  const container = await docker.createContainer({ Image: 'busybox', Cmd: ['wc', '-c'], Tty: false, OpenStdin: true, StdinOnce: true, AttachStdin: true });
  const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, out, new PassThrough());
  const ended = new Promise((r) => stream.on('end', r));
  await container.start();
  stream.end('x'.repeat(1000));
  assert.equal(((await container.wait()) as { StatusCode: number }).StatusCode, 0);
  await ended;
  assert.equal(Buffer.concat(chunks).toString().trim(), '1000');
  await container.remove();
});
