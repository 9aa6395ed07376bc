/**
 * The API cost of `inspect` and `ps`: with 1 and BENCH_INSPECT_COUNT (default 200) created
 * containers, the median time of GET /containers/{id}/json and GET /containers/json?all=1 over one
 * kept-alive connection (BENCH_INSPECT_N requests each), on a freshly started wharfd (its first
 * requests run before V8 has compiled the path, as a user's first `docker inspect` does). With
 * BENCH_DOCKER_HOST (unix:///path of a dockerd that has busybox) every request to wharfd is
 * followed by the same one to Docker, so both see the same (equally warmed-up) client and the
 * same load; ratios are printed and the rows recorded for the summary table.
 * Run as root, after tsc.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { median, recordRow } from './report.js';

const run = promisify(execFile);
const COUNT = Number(process.env.BENCH_INSPECT_COUNT ?? 200);
const N = Number(process.env.BENCH_INSPECT_N ?? 200);
const dockerHost = process.env.BENCH_DOCKER_HOST;


function client(socketPath: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; text: string; ms: number }>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const t0 = performance.now();
      const req = http.request(
        { socketPath, agent, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}

type Api = ReturnType<typeof client>;

async function populate(api: Api, count: number, have: string[]): Promise<void> {
  while (have.length < count) {
    const r = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Labels: { 'wharf.bench': 'inspect' } });
    have.push((JSON.parse(r.text) as { Id: string }).Id);
  }
}

type Samples = { inspect: number[]; list: number[] };

/**
 * N rounds of inspects, every engine answering in turn, then N rounds of lists. Each kind has its
 * own loop because an engine's answer is slower the longer it sat idle before (the VM's vCPU and
 * the process wake up cold: after 20 ms idle a wharfd /_ping takes twice as long as after 1 ms);
 * interleaving an inspect with the other engine's 200-container list made one engine's inspect
 * always follow the other's long list. Here each request waits only for the other engine's
 * request of the same kind.
 */
async function measure(engines: Array<{ name: string; api: Api; id: string }>): Promise<Record<string, Samples>> {
  const out: Record<string, Samples> = Object.fromEntries(engines.map((e) => [e.name, { inspect: [], list: [] }]));
  for (let i = 0; i < N; i++) {
    for (const e of engines) out[e.name]!.inspect.push((await e.api('GET', `/containers/${e.id}/json`)).ms);
  }
  for (let i = 0; i < N; i++) {
    for (const e of engines) out[e.name]!.list.push((await e.api('GET', '/containers/json?all=1')).ms);
  }
  return out;
}

const d = await startDaemon();
const created: Record<string, string[]> = { wharf: [], docker: [] };
const apis: Record<string, Api> = { wharf: client(d.socket) };
if (dockerHost) apis.docker = client(dockerHost.replace(/^unix:\/\//, ''));
try {
  await loadBusybox(d);
  for (const count of [1, COUNT]) {
    for (const [name, api] of Object.entries(apis)) await populate(api, count, created[name]!);
    const samples = await measure(Object.entries(apis).map(([name, api]) => ({ name, api, id: created[name]![0]! })));
    const rows = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, { inspect: median(s.inspect), list: median(s.list) }]));
    console.log(`${count} containers, medians of ${N} requests (load ${loadavg()[0]!.toFixed(2)}):`);
    for (const [name, r] of Object.entries(rows)) {
      const vs = rows.docker && name !== 'docker' ? `   ${(r.inspect / rows.docker.inspect).toFixed(2)} / ${(r.list / rows.docker.list).toFixed(2)} of docker` : '';
      console.log(`  ${name.padEnd(7)} inspect ${r.inspect.toFixed(2).padStart(6)} ms   list ${r.list.toFixed(2).padStart(6)} ms${vs}`);
    }
    const docker = samples.docker;
    const of = count === 1 ? '1 container' : `${count} containers`;
    recordRow({ what: `GET /containers/{id}/json (inspect), ${of}`, wharf: samples.wharf!.inspect, ...(docker ? { docker: docker.inspect } : {}), goal: '≤ 0.8 docker' });
    recordRow({ what: `GET /containers/json?all=1 (ps -a), ${of}`, wharf: samples.wharf!.list, ...(docker ? { docker: docker.list } : {}), goal: '≤ 0.8 docker' });
  }
} finally {
  if (dockerHost && created.docker!.length) {
    await run(DOCKER_CLI, ['rm', '-f', ...created.docker!], { env: { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: join(d.root, 'docker-config') } }).catch(() => {});
  }
  await d.cleanup();
}
