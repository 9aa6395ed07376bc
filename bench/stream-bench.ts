/**
 * The daemon's memory: wharfd's RSS freshly started and idle after a `run --rm`; then a slow
 * client's cost: the RSS while a paced client reads BENCH_STREAM_MB (default 300) of attach
 * output, what is left after it and seven runs once wharfd has been quiet long enough to return
 * what it freed (QUIET_TRIM_MS in src/lib/malloc-trim.ts), and `docker run --rm busybox true`
 * before and after (spawn latency grew with the heap when output was buffered). The idle figures are taken once the layer
 * extraction workers of the image load have stopped (they idle for 30 s, then exit), so they
 * are the daemon's own. wharfd runs with MALLOC_ARENA_MAX=2 as its systemd unit starts it; set it
 * in the environment to compare another value (16 is glibc's default on two cores). Run as root,
 * after tsc.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadavg } from 'node:os';
import { DOCKER_CLI, loadBusybox, startDaemon, waitFor } from '../test/integration/harness.js';
import { median, recordRow } from './report.js';
import { openStream, rssMb, sampleRss, slowRead, threadCount } from '../test/integration/slow-client.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUIET_TRIM_MS } from '../src/lib/malloc-trim.js';
import http from 'node:http';

const run = promisify(execFile);
const MB = Number(process.env.BENCH_STREAM_MB ?? 300);
const N = Number(process.env.BENCH_STREAM_N ?? 7);



const d = await startDaemon();
try {
  const fresh = rssMb(d.pid);
  const freshThreads = threadCount(d.pid);
  await loadBusybox(d);
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') };
  const runs = async (t: number[]) => {
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

  const before: number[] = [];
  const runBefore = await runs(before);
  await waitFor(() => threadCount(d.pid) <= freshThreads, { timeoutMs: 120_000, intervalMs: 500, what: 'the image load\'s extraction workers to stop' });
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
  const after: number[] = [];
  const runAfter = await runs(after);
  // What is left once wharfd has been quiet long enough to hand back what the burst freed.
  await sleep(QUIET_TRIM_MS + 1000);
  const settled = rssMb(d.pid);
  await run(DOCKER_CLI, ['rm', '-f', id], { env });

  console.log(`wharfd RSS freshly started ${fresh.toFixed(1)} MB; idle after loading busybox and ${N} runs ${idle.toFixed(1)} MB (MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? 2})`);
  console.log(`slow client: ${(got.bytes / 1048576).toFixed(0)} MB of attach output read in ${secs.toFixed(1)} s (paced), wharfd RSS:`);
  console.log(`  idle before              ${idle.toFixed(1).padStart(7)} MB`);
  console.log(`  peak while reading       ${peak.toFixed(1).padStart(7)} MB   (+${(peak - idle).toFixed(1)} MB)`);
  console.log(`  when the stream ended    ${afterStream.toFixed(1).padStart(7)} MB   (+${(afterStream - idle).toFixed(1)} MB)`);
  console.log(`  after ${N} more runs, quiet ${(QUIET_TRIM_MS / 1000 + 1).toFixed(0)} s ${settled.toFixed(1).padStart(7)} MB   (+${(settled - idle).toFixed(1)} MB)`);
  console.log(`docker run --rm busybox true, median of ${N}: ${runBefore.toFixed(0)} ms before, ${runAfter.toFixed(0)} ms after the slow client (load ${loadavg()[0]!.toFixed(2)})`);
  recordRow({ what: 'wharfd RSS, freshly started', wharf: [fresh], unit: 'MB', goal: '< 70 MB' });
  recordRow({ what: `wharfd RSS, idle after loading busybox and ${N} runs`, wharf: [idle], unit: 'MB', goal: '< 70 MB' });
  recordRow({ what: `RSS growth while a slow client reads ${MB} MB of attach output (peak)`, wharf: [peak - idle], unit: 'MB', goal: '≤ +16 MB' });
  recordRow({ what: `RSS growth after that stream, ${N} more runs and ${(QUIET_TRIM_MS / 1000 + 1).toFixed(0)} s quiet`, wharf: [settled - idle], unit: 'MB', goal: 'returned (≈ 0)' });
  recordRow({ what: '`docker run --rm busybox true` after a slow client (floor: before it)', wharf: after, floor: before, goal: '≤ 1.0 floor' });
} finally {
  await d.cleanup();
}
