/**
 * The Kubernetes CRI endpoint (--cri-socket) driven by the real clients: critest's basic
 * conformance subset, and crictl as an operator uses it — pods with an IP other pods reach, a host
 * port on 127.0.0.1, kubelet's log file in the CRI format, `docker ps` showing the pods with their
 * io.kubernetes labels, pods and containers kept across a wharfd restart, pull/images/inspecti/rmi
 * against the local test registry, and nothing left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countLeaks, runCommand, startDaemon, waitFor, type Daemon, type RunResult } from './harness.js';
import { startRegistry, freePort, type RegistryProcess } from '../fixtures/registry.js';
import { buildImage, busyboxTar, publishImage } from '../fixtures/registry-images.js';
import { CRI_TEST_IMAGE, CRI_WEB_IMAGE, loadCriImages, writeTestImagesFile } from '../fixtures/cri-images.js';
import { NGINX_TEST_PAGE_MARKER } from '../fixtures/debian-images.js';
import * as grpc from '@grpc/grpc-js';
import { criProto } from '../../src/cri/proto.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

let root: string;
let criSocket: string;
let tools: string;
let registry: RegistryProcess;
let d: Daemon;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-cri-'));
  criSocket = join(root, 'cri.sock');
  const found = await runCommand('bash', [join(REPO_ROOT, 'scripts/cri-tools.sh')], { timeoutMs: 600_000 });
  assert.equal(found.code, 0, `scripts/cri-tools.sh: ${found.stderr}`);
  tools = found.stdout.trim().split('\n').pop()!;
  const storage = join(root, 'registry');
  await mkdir(storage);
  registry = await startRegistry({ dir: root, storage });
  await publishImage(`http://${registry.host}`, 'cri/bb', '1', buildImage([await busyboxTar()], { cmd: ['sh'] }));
  d = await startDaemon({ config: { 'cri-socket': criSocket } });
  await loadCriImages(d);
});

after(async () => {
  await d?.cleanup();
  await registry?.stop();
  await rm(root, { recursive: true, force: true });
});

function crictl(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const endpoint = `unix://${criSocket}`;
  return runCommand(join(tools, 'crictl'), ['--runtime-endpoint', endpoint, '--image-endpoint', endpoint, '--timeout', '60s', ...args], { timeoutMs });
}

async function crictlOk(args: string[]): Promise<string> {
  const r = await crictl(args);
  assert.equal(r.code, 0, `crictl ${args.join(' ')}: ${r.stderr}${r.stdout}\n--- wharfd ---\n${d.log().slice(-3000)}`);
  return r.stdout.trim();
}

/** One unary RuntimeService call straight over gRPC (for RPCs crictl has no command for). */
function runtimeCall(method: string, req: Record<string, unknown>): Promise<unknown> {
  const Client = criProto().runtime.v1.RuntimeService;
  const client = new Client(`unix://${criSocket}`, grpc.credentials.createInsecure()) as unknown as Record<string, (r: unknown, cb: (err: Error | null, res: unknown) => void) => void>;
  return new Promise((resolvePromise, reject) => {
    client[method]!(req, (err, res) => {
      (client as unknown as grpc.Client).close();
      if (err) reject(err);
      else resolvePromise(res);
    });
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const req = get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolvePromise(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

test('critest: the basic operations subset passes (15 specs)', async () => {
  const images = join(root, 'test-images.yaml');
  await writeTestImagesFile(images);
  const report = join(root, 'critest-basic.xml');
  const r = await runCommand(
    join(tools, 'critest'),
    ['--runtime-endpoint', `unix://${criSocket}`, '--test-images-file', images, '--ginkgo.focus', 'basic operations', '--ginkgo.no-color', '--ginkgo.junit-report', report],
    { timeoutMs: 300_000 },
  );
  const xml = await readFile(report, 'utf8').catch(() => '');
  // Spec cases only ("[It] …"), not the suite's setup nodes ("[SynchronizedBeforeSuite]").
  const statuses = [...xml.matchAll(/<testcase name="\[It\][^"]*"[^>]*status="([a-z]+)"/g)].map((m) => m[1]);
  const passed = statuses.filter((s) => s === 'passed').length;
  const failed = statuses.filter((s) => s === 'failed' || s === 'panicked' || s === 'timedout').length;
  assert.equal(failed, 0, `critest failures:\n${r.stdout.slice(-6000)}`);
  assert.equal(passed, 15, `expected 15 passed specs, got ${passed}:\n${r.stdout.slice(-4000)}`);
  assert.equal(r.code, 0, r.stdout.slice(-3000));
});

test('crictl: pods with IPs, a host port, CRI logs at kubelet\'s path, docker ps, a restart, then teardown', async () => {
  const logDir = join(root, 'pod-logs');
  const hostPort = await freePort();
  const podConfig = (name: string, extra: Record<string, unknown> = {}) => ({
    metadata: { name, namespace: 'cri-test', uid: `uid-${name}`, attempt: 0 },
    log_directory: join(logDir, name),
    linux: {},
    ...extra,
  });
  const webPod = podConfig('web', {
    hostname: 'web-host',
    port_mappings: [{ protocol: 0, container_port: 80, host_port: hostPort, host_ip: '127.0.0.1' }],
    dns_config: { servers: ['192.0.2.53'], searches: ['svc.cri.test'], options: ['ndots:3'] },
    labels: { app: 'web' },
  });
  const clientPod = podConfig('client');
  const files: Record<string, unknown> = {
    'web-pod.json': webPod,
    'client-pod.json': clientPod,
    // kubelet asks for negative scores (-998 for critical pods); lowering one needs CAP_SYS_RESOURCE.
    'web.json': { metadata: { name: 'nginx' }, image: { image: CRI_WEB_IMAGE }, log_path: 'nginx/0.log', linux: { resources: { oom_score_adj: -998 } } },
    'client.json': {
      metadata: { name: 'shell' },
      image: { image: CRI_TEST_IMAGE },
      command: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exec sleep 3600'],
      log_path: 'shell/0.log',
      linux: {},
    },
  };
  for (const [name, body] of Object.entries(files)) await writeFile(join(root, name), JSON.stringify(body));

  const webPodId = await crictlOk(['runp', join(root, 'web-pod.json')]);
  assert.match(webPodId, /^[0-9a-f]{64}$/);
  const web = await crictlOk(['create', webPodId, join(root, 'web.json'), join(root, 'web-pod.json')]);
  await crictlOk(['start', web]);
  const clientPodId = await crictlOk(['runp', join(root, 'client-pod.json')]);
  const shell = await crictlOk(['create', clientPodId, join(root, 'client.json'), join(root, 'client-pod.json')]);
  await crictlOk(['start', shell]);

  const ps = await crictlOk(['ps', '-o', 'json']);
  const running = (JSON.parse(ps) as { containers: Array<{ id: string; state: string }> }).containers;
  assert.deepEqual(running.filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => c.id).sort(), [web, shell].sort());
  assert.deepEqual((await crictlOk(['pods', '-q', '--label', 'app=web'])).split('\n'), [webPodId]);

  const inspectp = JSON.parse(await crictlOk(['inspectp', webPodId])) as { status: { state: string; network: { ip: string } } };
  assert.equal(inspectp.status.state, 'SANDBOX_READY');
  const webIp = inspectp.status.network.ip;
  assert.match(webIp, /^\d+\.\d+\.\d+\.\d+$/);

  // Another pod reaches the web pod at its IP; the pod's DNS config and hostname are in place.
  const page = await waitFor(
    async () => {
      const r = await crictl(['exec', '-s', shell, 'wget', '-qO-', `http://${webIp}/`]);
      return r.code === 0 && r.stdout.includes(NGINX_TEST_PAGE_MARKER) ? r.stdout : undefined;
    },
    { timeoutMs: 20_000, what: `the web pod at ${webIp} to answer from the client pod` },
  );
  assert.match(page, /Welcome to nginx/);
  const resolv = await crictlOk(['exec', '-s', web, 'cat', '/etc/resolv.conf']);
  assert.match(resolv, /^nameserver 192\.0\.2\.53$/m);
  assert.match(resolv, /^search svc\.cri\.test$/m);
  assert.match(resolv, /^options ndots:3$/m);
  assert.equal(await crictlOk(['exec', '-s', web, 'cat', '/etc/hostname']), 'web-host');

  // restrict_oom_score_adj: the score is raised to wharfd's own (inherited from this process).
  const ownOom = (await readFile('/proc/self/oom_score_adj', 'utf8')).trim();
  assert.equal(await crictlOk(['exec', '-s', web, 'cat', '/proc/1/oom_score_adj']), String(Math.max(-998, Number(ownOom))));

  // The host port on 127.0.0.1 reaches the web server.
  assert.match(await httpGet(`http://127.0.0.1:${hostPort}/`), new RegExp(NGINX_TEST_PAGE_MARKER));

  // kubelet's log path holds CRI-format lines; crictl logs reads them back.
  const logFile = join(logDir, 'client', 'shell', '0.log');
  const logText = await waitFor(
    async () => {
      const t = await readFile(logFile, 'utf8').catch(() => '');
      return t.includes('to-stderr') && t.includes('to-stdout') ? t : undefined;
    },
    { what: `${logFile} to hold both lines` },
  );
  for (const line of logText.trimEnd().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) [FP] /);
  assert.match(logText, / stdout F to-stdout\n/);
  assert.match(logText, / stderr F to-stderr\n/);
  const logs = await crictl(['logs', shell]);
  assert.equal(logs.stdout.trim(), 'to-stdout');
  assert.equal(logs.stderr.trim(), 'to-stderr');
  const status = JSON.parse(await crictlOk(['inspect', shell])) as { status: { logPath: string; state: string } };
  assert.equal(status.status.logPath, logFile);
  // kubelet's rotation: rename, ReopenContainerLog, and the file is back when the call returns.
  await rename(logFile, `${logFile}.1`);
  await runtimeCall('ReopenContainerLog', { container_id: shell });
  assert.equal((await stat(logFile)).isFile(), true);

  const stats = JSON.parse(await crictlOk(['stats', '-o', 'json'])) as { stats: Array<{ attributes: { id: string }; memory: { workingSetBytes: { value: string } } }> };
  const shellStats = stats.stats.find((s) => s.attributes.id === shell);
  assert.ok(shellStats && Number(shellStats.memory.workingSetBytes.value) > 0, JSON.stringify(stats));

  // The Docker API lists the pods' engine containers with dockershim's labels.
  const dps = await d.docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Label "io.kubernetes.pod.name"}} {{.Label "io.kubernetes.docker.type"}} {{.Label "io.kubernetes.container.name"}}', '--no-trunc']);
  assert.equal(dps.code, 0, dps.stderr);
  const rows = dps.stdout.trim().split('\n').sort();
  assert.deepEqual(
    rows,
    [
      `${clientPodId} k8s_POD_client_cri-test_uid-client_0 client podsandbox POD`,
      `${shell} k8s_shell_client_cri-test_uid-client_0 client container shell`,
      `${web} k8s_nginx_web_cri-test_uid-web_0 web container nginx`,
      `${webPodId} k8s_POD_web_cri-test_uid-web_0 web podsandbox POD`,
    ].sort(),
  );

  // A wharfd restart keeps pods and containers, running and reachable.
  await d.restart();
  await waitFor(async () => (await crictl(['version'])).code === 0, { timeoutMs: 30_000, what: 'the CRI socket after restart' });
  const podsAfter = JSON.parse(await crictlOk(['pods', '-o', 'json'])) as { items: Array<{ id: string; state: string }> };
  assert.deepEqual(podsAfter.items.map((p) => `${p.id} ${p.state}`).sort(), [`${webPodId} SANDBOX_READY`, `${clientPodId} SANDBOX_READY`].sort());
  const after = JSON.parse(await crictlOk(['inspectp', webPodId])) as { status: { network: { ip: string } } };
  assert.equal(after.status.network.ip, webIp);
  assert.match(await crictlOk(['exec', '-s', shell, 'wget', '-qO-', `http://${webIp}/`]), new RegExp(NGINX_TEST_PAGE_MARKER));

  // Teardown as kubelet does it: stop and remove containers, then the sandboxes.
  await crictlOk(['stop', '--timeout', '2', shell]);
  const stopped = JSON.parse(await crictlOk(['inspect', shell])) as { status: { state: string; exitCode: number } };
  assert.equal(stopped.status.state, 'CONTAINER_EXITED');
  await crictlOk(['rm', shell]);
  await crictlOk(['stopp', webPodId]);
  const notReady = JSON.parse(await crictlOk(['inspectp', webPodId])) as { status: { state: string } };
  assert.equal(notReady.status.state, 'SANDBOX_NOTREADY');
  await crictlOk(['rmp', webPodId]);
  await crictlOk(['stopp', clientPodId]);
  await crictlOk(['rmp', clientPodId]);
  assert.equal(await crictlOk(['pods', '-q']), '');
  assert.equal(await crictlOk(['ps', '-a', '-q']), '');
  const left = await d.docker(['ps', '-a', '-q', '--filter', 'label=io.kubernetes.docker.type']);
  assert.equal(left.stdout.trim(), '');
  await assert.rejects(httpGet(`http://127.0.0.1:${hostPort}/`));

  const leaks = await countLeaks(d);
  assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc, cgroups: leaks.cgroups }, { mounts: 0, conmon: 0, runc: 0, cgroups: 0 }, JSON.stringify(leaks.details));
  assert.deepEqual((await readdir(join(logDir, 'client', 'shell'))).sort(), ['0.log', '0.log.1']); // kubelet's to remove, as with containerd
});

test('a pod in the host IPC namespace sees the host\'s SysV segments; a pod of its own does not', async () => {
  const made = await runCommand('ipcmk', ['-M', '4096']);
  assert.equal(made.code, 0, made.stderr);
  const shmid = /(\d+)\s*$/.exec(made.stdout.trim())![1]!;
  try {
    const seen: Record<string, boolean> = {};
    // NamespaceMode as crictl's JSON takes it: POD = 0, NODE = 2.
    for (const [ipc, mode] of [['NODE', 2], ['POD', 0]] as const) {
      const name = `ipc-${ipc.toLowerCase()}`;
      const pod = { metadata: { name, namespace: 'cri-test', uid: `uid-${name}`, attempt: 0 }, linux: { security_context: { namespace_options: { ipc: mode } } } };
      const ctr = { metadata: { name: 'sleeper' }, image: { image: CRI_TEST_IMAGE }, command: ['sleep', '3600'], linux: {} };
      await writeFile(join(root, `${name}-pod.json`), JSON.stringify(pod));
      await writeFile(join(root, `${name}.json`), JSON.stringify(ctr));
      const podId = await crictlOk(['runp', join(root, `${name}-pod.json`)]);
      const id = await crictlOk(['create', podId, join(root, `${name}.json`), join(root, `${name}-pod.json`)]);
      await crictlOk(['start', id]);
      const segments = await crictlOk(['exec', '-s', id, 'cat', '/proc/sysvipc/shm']);
      seen[ipc] = segments.split('\n').some((l) => l.trim().split(/\s+/)[1] === shmid);
      await crictlOk(['rmp', '-f', podId]);
    }
    assert.deepEqual(seen, { NODE: true, POD: false });
  } finally {
    await runCommand('ipcrm', ['-m', shmid]);
  }
});

test('docker run --pid/--ipc container:<id> join another container\'s namespaces (what pods use)', async () => {
  const holder = await d.docker(['run', '-d', '--ipc', 'shareable', CRI_TEST_IMAGE, 'sleep', '3600']);
  assert.equal(holder.code, 0, holder.stderr);
  const id = holder.stdout.trim();
  try {
    const ps = await d.docker(['run', '--rm', '--pid', `container:${id}`, CRI_TEST_IMAGE, 'ps', '-o', 'pid,comm']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^\s*1 sleep$/m);
    const ipcOf = async (args: string[]) => {
      const r = await d.docker(['run', '--rm', ...args, CRI_TEST_IMAGE, 'readlink', '/proc/self/ns/ipc']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const holderIpc = (await d.docker(['exec', id, 'readlink', '/proc/1/ns/ipc'])).stdout.trim();
    assert.equal(await ipcOf(['--ipc', `container:${id}`]), holderIpc);
    assert.notEqual(await ipcOf([]), holderIpc);
    const missing = await d.docker(['run', '--rm', '--pid', 'container:no-such-container', CRI_TEST_IMAGE, 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /No such container: no-such-container/);
  } finally {
    await d.docker(['rm', '-f', id]);
  }
});

test('crictl: pull from a registry, images, inspecti, rmi on the store docker pull uses', async () => {
  const ref = `${registry.host}/cri/bb:1`;
  await crictlOk(['pull', ref]);
  const images = JSON.parse(await crictlOk(['images', '-o', 'json'])) as { images: Array<{ id: string; repoTags: string[]; repoDigests: string[] }> };
  const img = images.images.find((i) => i.repoTags.includes(ref));
  assert.ok(img, JSON.stringify(images));
  assert.equal(img.repoDigests.length, 1);
  const inspect = JSON.parse(await crictlOk(['inspecti', ref])) as { status: { id: string; size: string } };
  assert.equal(inspect.status.id, img.id);
  assert.ok(Number(inspect.status.size) > 0);
  // The same store as the Docker API.
  const dockerImages = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.match(dockerImages.stdout, new RegExp(`^${ref.replace(/[.]/g, '\\.')}$`, 'm'));
  await crictlOk(['rmi', ref]);
  const gone = await crictl(['inspecti', ref]);
  assert.notEqual(gone.code, 0);
  assert.doesNotMatch((await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, new RegExp(ref.replace(/[.]/g, '\\.')));
});
