/**
 * create+start+exit of `true` through ConmonRuntime vs plain `runc run` of the same bundle.
 * Run as root: node dist/bench/runtime-bench.js [iterations]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConmonRuntime } from '../src/runtime/conmon.js';
import type { ExitInfo } from '../src/runtime/runtime.js';
import { buildSpec, detectCgroupVersion } from '../src/runtime/spec.js';
import { makeBusyboxRootfs } from '../test/integration/runtime-rootfs.js';

const N = Number(process.argv[2] ?? 20);
const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
const rootfs = await makeBusyboxRootfs(dir);
const execRoot = join(dir, 'exec');
const cgroupVersion = await detectCgroupVersion();
const rt = new ConmonRuntime({ stateRoot: join(dir, 'runc'), execRoot });
const waiters = new Map<string, (e: ExitInfo) => void>();
rt.watchExits((e) => waiters.get(e.id)?.(e));

const spec = (id: string) =>
  buildSpec({
    id, rootfs, config: {}, hostConfig: {}, args: ['true'], env: ['PATH=/bin'], cwd: '/', hostname: 'bench',
    user: { uid: 0, gid: 0, additionalGids: [] }, network: { kind: 'new' }, cgroupVersion,
  });

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const conmon: number[] = [];
const createMs: number[] = [];
for (let i = 0; i < N; i++) {
  const id = `bench${process.pid}x${i}`;
  const t0 = performance.now();
  const exited = new Promise<ExitInfo>((r) => waiters.set(id, r));
  await rt.create({ id, bundleDir: join(execRoot, 'bundles', id), spec: spec(id), tty: false, openStdin: false, stdinOnce: false, logPath: join(dir, `${id}.log`) });
  const t1 = performance.now();
  await rt.start(id);
  await exited;
  conmon.push(performance.now() - t0);
  createMs.push(t1 - t0);
  await rt.delete(id);
}
const runc: number[] = [];
const bundle = join(dir, 'plain');
await mkdir(bundle, { recursive: true });
for (let i = 0; i < N; i++) {
  const id = `plain${process.pid}x${i}`;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec(id)));
  const t0 = performance.now();
  execFileSync('runc', ['--root', join(dir, 'runc2'), 'run', '--bundle', bundle, id], { stdio: 'ignore' });
  runc.push(performance.now() - t0);
}
console.log(`conmon create+start+exit median ${median(conmon)!.toFixed(1)} ms (create ${median(createMs)!.toFixed(1)} ms); plain runc run median ${median(runc)!.toFixed(1)} ms; n=${N}`);
await rt.close();
await rm(dir, { recursive: true, force: true });
