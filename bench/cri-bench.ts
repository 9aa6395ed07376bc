/**
 * CRI pod start and teardown through the gRPC API, wharfd beside containerd's CRI plugin on the
 * same machine, pod by pod alternately. Start = RunPodSandbox + CreateContainer + StartContainer
 * (busybox `sleep`); teardown = StopContainer (timeout 0) + RemoveContainer + StopPodSandbox +
 * RemovePodSandbox, as kubelet tears a pod down. Prints p50 and p99 of each.
 *
 * containerd (Debian's 1.6, installed with docker.io) runs with its own config, root, state and
 * socket in a temp dir: `restrict_oom_score_adj = true` (root lacks CAP_SYS_RESOURCE here), the
 * sandbox image and busybox imported with `ctr -n k8s.io images import` from wharfd's store (the
 * pause image is wharf's own, built from catatonit; nothing is pulled), CNI from Debian's
 * containernetworking-plugins (/usr/lib/cni) with a private bridge conflist and IPAM dir.
 * BENCH_CRI_CONTAINERD=0 measures wharfd alone.
 *
 * Run as root, after `npm run build`:  node dist/bench/cri-bench.js [N]   (BENCH_CRI_N, default 50)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { criProto } from '../src/cri/proto.js';
import { loadBusybox, runCommand, startDaemon, waitFor } from '../test/integration/harness.js';

const N = Number(process.env.BENCH_CRI_N ?? process.argv[2] ?? 50);
const WITH_CONTAINERD = process.env.BENCH_CRI_CONTAINERD !== '0';
const BUSYBOX = 'docker.io/library/busybox:latest';
const CNI_BRIDGE = 'wcbench0';

type Rpc = (method: string, req: Record<string, unknown>) => Promise<Record<string, unknown>>;

function client(socket: string): { call: Rpc; close: () => void } {
  const Service = criProto().runtime.v1.RuntimeService as unknown as new (a: string, c: grpc.ChannelCredentials) => grpc.Client &
    Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: Error | null, res: Record<string, unknown>) => void) => void>;
  const c = new Service(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    call: (method, req) =>
      new Promise((resolve, reject) => c[method]!(req, { deadline: Date.now() + 120_000 }, (e, res) => (e ? reject(new Error(`${method}: ${e.message}`)) : resolve(res)))),
    close: () => c.close(),
  };
}

interface Engine {
  name: string;
  call: Rpc;
  logDir: string;
  start: number[];
  teardown: number[];
}

async function podCycle(e: Engine, i: number, record: boolean): Promise<void> {
  const podConfig = {
    metadata: { name: `bench-${i}`, uid: `bench-uid-${i}-${e.name}`, namespace: 'bench', attempt: 0 },
    hostname: `bench-${i}`,
    log_directory: join(e.logDir, `pod-${i}`),
    linux: {},
  };
  const t0 = performance.now();
  const { pod_sandbox_id: pod } = (await e.call('RunPodSandbox', { config: podConfig })) as { pod_sandbox_id: string };
  const { container_id: ctr } = (await e.call('CreateContainer', {
    pod_sandbox_id: pod,
    config: { metadata: { name: 'sleeper', attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '3600'], log_path: 'sleeper.log', linux: {} },
    sandbox_config: podConfig,
  })) as { container_id: string };
  await e.call('StartContainer', { container_id: ctr });
  const t1 = performance.now();
  await e.call('StopContainer', { container_id: ctr, timeout: 0 });
  await e.call('RemoveContainer', { container_id: ctr });
  await e.call('StopPodSandbox', { pod_sandbox_id: pod });
  await e.call('RemovePodSandbox', { pod_sandbox_id: pod });
  const t2 = performance.now();
  if (record) {
    e.start.push(t1 - t0);
    e.teardown.push(t2 - t1);
  }
}

function percentile(a: number[], p: number): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function startContainerd(dir: string, pauseImage: string, imagesTar: string): Promise<{ socket: string; proc: ChildProcess; stop: () => Promise<void> }> {
  const socket = join(dir, 'c.sock');
  const cniDir = join(dir, 'cni');
  await mkdir(cniDir, { recursive: true });
  await writeFile(
    join(cniDir, '10-bench.conflist'),
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'wharf-cri-bench',
      plugins: [
        {
          type: 'bridge',
          bridge: CNI_BRIDGE,
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.222.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
      ],
    }),
  );
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
`,
  );
  const { openSync } = await import('node:fs');
  const logFd = openSync(join(dir, 'containerd.log'), 'a');
  const proc = spawn('containerd', ['--config', config], { stdio: ['ignore', logFd, logFd] });
  await waitFor(() => existsSync(socket), { timeoutMs: 30_000, what: 'containerd socket' });
  const imp = await runCommand('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'import', imagesTar], { timeoutMs: 120_000 });
  if (imp.code !== 0) throw new Error(`ctr images import: ${imp.stderr}`);
  return {
    socket,
    proc,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      await runCommand('ip', ['link', 'del', CNI_BRIDGE]).catch(() => undefined);
    },
  };
}

const d = await startDaemon({ config: { 'cri-socket': '/tmp/wharf-cri-bench.sock' } });
const base = existsSync('/var/tmp') ? '/var/tmp' : '/tmp';
const tmp = await mkdtemp(join(base, 'wcb-'));
let ctrd: Awaited<ReturnType<typeof startContainerd>> | undefined;
const clients: Array<{ close: () => void }> = [];
try {
  await loadBusybox(d);
  const w = client('/tmp/wharf-cri-bench.sock');
  clients.push(w);
  const engines: Engine[] = [{ name: 'wharfd', call: w.call, logDir: join(tmp, 'logs-wharf'), start: [], teardown: [] }];
  await podCycle(engines[0]!, -1, false); // builds wharf/pause

  if (WITH_CONTAINERD) {
    const pause = (await d.docker(['images', 'wharf/pause', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.trim().split('\n')[0]!;
    const tar = join(tmp, 'images.tar');
    const saved = await d.docker(['save', '-o', tar, pause, 'busybox:latest']);
    if (saved.code !== 0) throw new Error(`docker save: ${saved.stderr}`);
    ctrd = await startContainerd(join(tmp, 'ctrd'), `docker.io/${pause}`, tar);
    const c = client(ctrd.socket);
    clients.push(c);
    engines.push({ name: 'containerd', call: c.call, logDir: join(tmp, 'logs-ctrd'), start: [], teardown: [] });
  }
  for (const e of engines) await podCycle(e, -2, false); // warm-up
  for (let i = 0; i < N; i++) for (const e of engines) await podCycle(e, i, true);

  const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(9);
  console.log(`CRI pod start (RunPodSandbox + CreateContainer + StartContainer) and teardown, ${N} pods each, alternated:`);
  console.log('| engine                  | start p50 | start p99 | teardown p50 | teardown p99 |');
  console.log('|-------------------------|-----------|-----------|--------------|--------------|');
  for (const e of engines) {
    const label = e.name === 'containerd' ? 'containerd 1.6 CRI' : 'wharfd CRI';
    console.log(`| ${label.padEnd(23)} | ${ms(percentile(e.start, 50))} | ${ms(percentile(e.start, 99))} | ${ms(percentile(e.teardown, 50)).padStart(12)} | ${ms(percentile(e.teardown, 99)).padStart(12)} |`);
  }
} finally {
  for (const c of clients) c.close();
  await ctrd?.stop();
  await d.cleanup();
  await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
}
