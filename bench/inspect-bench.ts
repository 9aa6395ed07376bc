/**
 * The API cost of `inspect` and `ps`: with 0 and BENCH_INSPECT_COUNT (default 200) created
 * containers, the median time of GET /containers/{id}/json and GET /containers/json?all=1 over one
 * kept-alive connection (BENCH_INSPECT_N requests each). With BENCH_DOCKER_HOST (unix:///path of a
 * dockerd that has busybox) the same is measured there, alternated, and ratios are printed.
 * Run as root, after tsc.
 */
import http from 'node:http';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';

const run = promisify(execFile);
const COUNT = Number(process.env.BENCH_INSPECT_COUNT ?? 200);
const N = Number(process.env.BENCH_INSPECT_N ?? 200);
const dockerHost = process.env.BENCH_DOCKER_HOST;

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

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

async function measure(api: Api, id: string): Promise<{ inspect: number; list: number }> {
  const inspect: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < N; i++) {
    inspect.push((await api('GET', `/containers/${id}/json`)).ms);
    list.push((await api('GET', '/containers/json?all=1')).ms);
  }
  return { inspect: median(inspect), list: median(list) };
}

const d = await startDaemon();
const created: Record<string, string[]> = { wharf: [], docker: [] };
const apis: Record<string, Api> = { wharf: client(d.socket) };
if (dockerHost) apis.docker = client(dockerHost.replace(/^unix:\/\//, ''));
try {
  await loadBusybox(d);
  for (const count of [1, COUNT]) {
    const rows: Record<string, { inspect: number; list: number }> = {};
    for (const [name, api] of Object.entries(apis)) await populate(api, count, created[name]!);
    for (const [name, api] of Object.entries(apis)) rows[name] = await measure(api, created[name]![0]!);
    console.log(`${count} containers, medians of ${N} requests:`);
    for (const [name, r] of Object.entries(rows)) {
      const vs = rows.docker && name !== 'docker' ? `   ${(r.inspect / rows.docker.inspect).toFixed(2)} / ${(r.list / rows.docker.list).toFixed(2)} of docker` : '';
      console.log(`  ${name.padEnd(7)} inspect ${r.inspect.toFixed(2).padStart(6)} ms   list ${r.list.toFixed(2).padStart(6)} ms${vs}`);
    }
  }
} finally {
  if (dockerHost && created.docker!.length) {
    await run(DOCKER_CLI, ['rm', '-f', ...created.docker!], { env: { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: join(d.root, 'docker-config') } }).catch(() => {});
  }
  await d.cleanup();
}
