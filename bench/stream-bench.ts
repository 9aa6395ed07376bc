/**
 * A slow client's cost to the daemon: wharfd's RSS while a paced client reads BENCH_STREAM_MB
 * (default 300) of attach output, what is left after, and `docker run --rm busybox true` before
 * and after (spawn latency grew with the heap when output was buffered). Run as root, after tsc.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { openStream, rssMb, sampleRss, slowRead } from '../test/integration/slow-client.js';
import { join } from 'node:path';
import http from 'node:http';

const run = promisify(execFile);
const MB = Number(process.env.BENCH_STREAM_MB ?? 300);
const N = Number(process.env.BENCH_STREAM_N ?? 7);

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const d = await startDaemon();
try {
  await loadBusybox(d);
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') };
  const runs = async () => {
    const t: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await run(DOCKER_CLI, ['run', '--rm', 'busybox', 'true'], { env });
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const post = (path: string, body?: unknown) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
      const req = http.request({ socketPath: d.socket, method: 'POST', path, headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(payload);
    });

  const runBefore = await runs();
  const idle = rssMb(d.pid);
  const created = await post('/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', `head -c ${MB * 1024 * 1024} /dev/zero`] });
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  const sampler = sampleRss(d.pid);
  const { stream, head } = await openStream(d.socket, 'POST', `/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  const reading = slowRead(stream, head);
  const t0 = performance.now();
  await post(`/containers/${id}/start`);
  const got = await reading;
  const secs = (performance.now() - t0) / 1000;
  const peak = sampler.stop();
  const afterStream = rssMb(d.pid);
  const runAfter = await runs();
  const settled = rssMb(d.pid);
  await run(DOCKER_CLI, ['rm', '-f', id], { env });

  console.log(`slow client: ${(got.bytes / 1048576).toFixed(0)} MB of attach output read in ${secs.toFixed(1)} s (paced), wharfd RSS:`);
  console.log(`  idle before              ${idle.toFixed(1).padStart(7)} MB`);
  console.log(`  peak while reading       ${peak.toFixed(1).padStart(7)} MB   (+${(peak - idle).toFixed(1)} MB)`);
  console.log(`  when the stream ended    ${afterStream.toFixed(1).padStart(7)} MB   (+${(afterStream - idle).toFixed(1)} MB)`);
  console.log(`  after ${N} more runs       ${settled.toFixed(1).padStart(7)} MB   (+${(settled - idle).toFixed(1)} MB)`);
  console.log(`docker run --rm busybox true, median of ${N}: ${runBefore.toFixed(0)} ms before, ${runAfter.toFixed(0)} ms after the slow client`);
} finally {
  await d.cleanup();
}
