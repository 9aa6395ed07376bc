/**
 * Back-pressure on output streams: a container writes hundreds of MB while a deliberately slow
 * client reads (a fixed budget per timer tick). wharfd must pause reading (conmon then blocks the
 * container's writes, as with Docker) instead of holding the output: its RSS stays within a bound,
 * and every byte arrives in order (the sha256 of what was read against that of what was written).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';
import { openStream, rssMb, sampleRss, slowRead } from './slow-client.js';

/** wharfd may grow by at most this while a slow client reads (before the fix: +300 MB and more). */
const RSS_BOUND_MB = 48;

/**
 * The numbers 1..BLOCK_NUMBERS on one line (a block whose size is no multiple of conmon's 8 KiB
 * reads, so packets reordered or lost change the hash; no newline, so the log holds 8 KiB
 * records), `repeats` times, at the speed of `cat`.
 */
const BLOCK_NUMBERS = 150000;
const BLOCK = Buffer.from(Array.from({ length: BLOCK_NUMBERS }, (_, i) => `${i + 1} `).join(''));

function producer(repeats: number): string[] {
  return ['sh', '-c', `seq 1 ${BLOCK_NUMBERS} | tr '\\n' ' ' > /tmp/b && i=0 && while [ $i -lt ${repeats} ]; do cat /tmp/b; i=$((i+1)); done; echo done >&2`];
}

function expected(repeats: number): { bytes: number; sha256: string } {
  const h = createHash('sha256');
  for (let i = 0; i < repeats; i++) h.update(BLOCK);
  return { bytes: BLOCK.length * repeats, sha256: h.digest('hex') };
}

/** How many blocks make about `mb` MiB. */
const blocksFor = (mb: number) => Math.ceil((mb * 1024 * 1024) / BLOCK.length);

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  // Warm up at full speed: the heap's working size for streaming (garbage not yet collected) is
  // not what is measured.
  const id = await create(producer(blocksFor(100)));
  const { stream, head } = await openStream(d.socket, 'POST', `/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  const reading = slowRead(stream, head, Infinity);
  assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await reading).bytes, expected(blocksFor(100)).bytes);
  await api('DELETE', `/containers/${id}?force=1`);
});
after(async () => {
  await d?.cleanup();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, read field by field by each case
function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: d.socket, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function create(cmd: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '8m', 'max-file': '1' } } }, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.Id as string;
}

async function checkSlowClient(t: TestContext, repeats: number, open: () => Promise<{ stream: Socket | http.IncomingMessage; head: Buffer }>, begin: () => Promise<void>) {
  const base = rssMb(d.pid);
  const sampler = sampleRss(d.pid);
  const { stream, head } = await open();
  const reading = slowRead(stream, head);
  await begin();
  const got = await reading;
  const peak = sampler.stop();
  const want = expected(repeats);
  assert.equal(got.bytes, want.bytes, 'every byte arrives');
  assert.equal(got.sha256, want.sha256, 'in order, unchanged');
  assert.equal(got.stderr, 'done');
  const growth = `wharfd grew by ${(peak - base).toFixed(1)} MB (from ${base.toFixed(1)} to ${peak.toFixed(1)}) while a slow client read ${want.bytes >> 20} MB`;
  t.diagnostic(growth);
  assert.ok(peak - base <= RSS_BOUND_MB, growth);
}

describe('a slow client is back-pressured, not buffered', () => {
  test('attach: 300 MB of stdout', async (t) => {
    const n = blocksFor(300);
    const id = await create(producer(n));
    await checkSlowClient(
      t,
      n,
      () => openStream(d.socket, 'POST', `/containers/${id}/attach?stream=1&stdout=1&stderr=1`),
      async () => {
        const r = await api('POST', `/containers/${id}/start`);
        assert.equal(r.status, 204);
      },
    );
    await api('DELETE', `/containers/${id}?force=1`);
  });

  test('exec: 200 MB of output', async (t) => {
    const n = blocksFor(200);
    const id = await create(['sleep', '1000']);
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    const ex = await api('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: producer(n) });
    assert.equal(ex.status, 201);
    await checkSlowClient(
      t,
      n,
      () => openStream(d.socket, 'POST', `/exec/${ex.json.Id}/start`, { Detach: false, Tty: false }),
      async () => {},
    );
    const inspect = await api('GET', `/exec/${ex.json.Id}/json`);
    assert.equal(inspect.json.ExitCode, 0);
    await api('DELETE', `/containers/${id}?force=1`);
  });

  test('logs -f: 120 MB followed as it is written', async (t) => {
    const n = blocksFor(120);
    const id = await create(producer(n), { HostConfig: { LogConfig: { Type: 'json-file', Config: {} } } });
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    await checkSlowClient(
      t,
      n,
      () => openStream(d.socket, 'GET', `/containers/${id}/logs?follow=1&stdout=1&stderr=1`),
      async () => {},
    );
    await api('DELETE', `/containers/${id}?force=1`);
  });
});
