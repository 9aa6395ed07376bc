/**
 * A seeded fuzz of the routes that act on things that exist: running, stopped and paused
 * containers, execs, a user network, volumes and an image, named by their real IDs, names and
 * prefixes (a tenth of them hostile strings), with random query values and mutations of
 * well-typed bodies (update, exec create and start, network connect), interleaved with creates
 * and starts of containers from a template of mostly valid and some invalid settings. Where
 * api-fuzz.test reaches the routers and decoders, this reaches the lifecycle behind them.
 *
 * Asserted: the daemon is the same process and answers /_ping, no error reached the
 * process-level safety net ("BUG:"), every request is answered within a bound, a 5xx is only
 * one Docker answers the same way (the runtime's, the logger's or ps's own failure, an unpause
 * of what is not paused, …), and once every container is removed nothing is left: no mount,
 * conmon, cgroup or runc container.
 *
 * What a create may ask for is limited to what cannot reach the host (no binds, devices,
 * privileges or host namespaces; ports on 127.0.0.1 only; commands are `true`, `sleep` and
 * `exit`), and no route that reaches a registry or a URL is sent. WHARF_FUZZ_SEED and
 * WHARF_STATEFUL_FUZZ_COUNT override the seed and the count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { buildRouter } from '../../src/api/server.js';
import { prng } from '../lib/prng.js';
import { countLeaks, jsonBody, ping, sharedDaemon, socketJson, socketRequest, waitFor } from './harness.js';

const SEED = Number(process.env.WHARF_FUZZ_SEED ?? 20261207);
const COUNT = Number(process.env.WHARF_STATEFUL_FUZZ_COUNT ?? 1000);
const CONCURRENCY = 6;
const ANSWER_MS = 20_000;

/**
 * Not sent: routes that reach registries or URLs, that make things a create template would
 * not (images from archives, networks), that remove what the fuzz acts on, and the ones
 * api-fuzz.test covers where there is no state to act on (swarm, plugins, checkpoints).
 */
const SKIP = [
  /^POST \/images\/\{name:\.\*\}\/push$/, /^POST \/auth$/, /^GET \/images\/search$/, /^POST \/build$/, /^GET \/plugins\/privileges$/,
  /^GET \/distribution\//, /^POST \/images\/create$/, /^POST \/images\/load$/, /^POST \/containers\/create$/, /^POST \/networks\/create$/,
  /^PUT \/containers\/\{[^}]+\}\/archive$/, /^POST \/(?:grpc|session)$/, /prune$/, /^DELETE \//, /^POST \/commit$/, /\/rename$/, /attach/,
  /^[A-Z]+ \/(?:swarm|services|nodes|tasks|secrets|configs|plugins)/, /checkpoints/, /^PUT \/volumes\//, /^POST \/system\//,
];

/** 5xx answers Docker gives the same way: the runtime's, the logger's and ps's own failures, moby's plain errors. */
const DOCKER_500 = [
  /^Container [0-9a-f]{64} is not paused$/,
  /^container [0-9a-f]{64} is not connected to (?:the )?network /,
  /^cannot pause container [0-9a-f]{64}: /,
  /^Cannot unpause container [0-9a-f]{64}: /,
  /^failed to initialize logging driver: /,
  /^ps: /,
  /^failed to create task for container: /,
  /^failed to set up container networking: error renaming interface /,
  /^failed to set up container networking: failed to add interface \S+ to sandbox: error setting interface "\S+" MAC to /,
  // runc's own check on cgroup v1 that the kernel kept the shares it wrote (moby's update is runc's too).
  /^Cannot update container [0-9a-f]{64}: the maximum allowed cpu-shares is \d+$/,
  // An exec start racing the container's stop: the runtime's refusal, which moby's
  // setExitCodeFromError passes on as an unknown error (a 500) too.
  /^OCI runtime exec failed: /,
];

const daemon = sharedDaemon();

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

interface Outcome {
  status: number | null;
  timedOut: boolean;
  /** An error's body (status 400 and above), as far as it came. */
  body: string;
}

/** One request; resolves at the status line (and an error's body), a close, or the bound. Streams are let go at once. */
function send(method: string, target: string, body: unknown): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect(daemon().socket);
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (o: Omit<Outcome, 'body'>, text = '') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...o, body: text });
    };
    const timer = setTimeout(() => finish({ status: null, timedOut: true }), ANSWER_MS);
    sock.on('error', () => finish({ status: null, timedOut: false }));
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(got.toString('latin1'));
      finish({ status: m ? Number(m[1]) : null, timedOut: false }, m?.[2] ?? '');
    });
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const text = got.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const end = text.indexOf('\r\n\r\n');
      if (!m || end < 0) return;
      const status = Number(m[1]);
      if (status < 400 || method === 'HEAD') return finish({ status, timedOut: false });
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length && got.length >= end + 4 + Number(length[1])) finish({ status, timedOut: false }, text.slice(end + 4));
    });
    const data = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const head = [`${method} ${target} HTTP/1.1`, 'Host: localhost', 'Connection: close', `Content-Length: ${data.length}`];
    if (body !== undefined) head.push('Content-Type: application/json');
    sock.write(Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n'), data]));
  });
}

const HOSTILE = ['', '..', '../../etc/passwd', '%2e%2e%2f', '/etc/passwd', '%00', 'a'.repeat(300), '%ff', '-', '*', '$(id)'];
const QUERY_KEYS = [
  'all', 'force', 'filters', 'name', 'tail', 'follow', 'stream', 'signal', 'h', 'w', 'path', 'condition', 't', 'timeout', 'v', 'link',
  'since', 'until', 'timestamps', 'stdout', 'stderr', 'ps_args', 'size', 'limit', 'one-shot', 'copyUIDGID', 'noOverwriteDirNonDir',
  'logs', 'stdin', 'detachKeys', 'pause', 'changes', 'container', 'repo', 'tag', 'noprune',
];
const QUERY_VALUES = [
  '', '0', '1', '-1', 'true', 'false', '99999999999999999999', '1e400', 'NaN', '../../x', '/', '/etc', '/bin/../etc/passwd', '%zz', '{',
  '{"label":["n=1"]}', '{"status":["running"]}', '{"until":["1e400"]}', '{"since":["x"]}', '{"dangling":["maybe"]}', 'a'.repeat(3000),
  'SIGKILL', 'SIGSTOP', 'SIGCONT', 'SIGHUP', '64', 'SIGFOO', 'not-running', 'next-exit', 'removed', '2024-01-01T00:00:00Z', '1.5', 'aux',
  '-eo pid,args', '--help', '-e;id', 'ctrl-p,ctrl-q', 'ctrl-', '10m', 'linux/arm64', 'é',
];
const ANY: readonly unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -9223372036854775808, 2 ** 64, '', 'x', '..', '/', 'a'.repeat(1000), [], {}, ['x'],
  { a: 1 }, '1', 'SIGKILL',
];

/** A copy with some values replaced by any JSON value, some dropped, and now and then an odd key added. */
function mutate(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || depth > 3) return rand() < 0.15 ? pick(ANY) : v;
  const copy: Record<string, unknown> = Array.isArray(v) ? ([...v] as unknown as Record<string, unknown>) : { ...(v as Record<string, unknown>) };
  for (const k of Object.keys(copy)) {
    const r = rand();
    if (r < 0.1) copy[k] = pick(ANY);
    else if (r < 0.15) delete copy[k];
    else copy[k] = mutate(copy[k], depth + 1);
  }
  if (!Array.isArray(v) && rand() < 0.1) Object.defineProperty(copy, pick(['__proto__', 'constructor', 'hostconfig', 'Unknown']), { value: pick(ANY), enumerable: true });
  return copy;
}

interface State {
  containers: string[];
  names: string[];
  execs: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

function createBody(st: State, network: string): Record<string, unknown> {
  const hostConfig: Record<string, unknown> = {
    NetworkMode: pick(['none', 'bridge', network, 'default', '', `container:${st.names[0]}`, 'nonexistent']),
    Memory: pick([0, 4096, 64 * 1024 * 1024, -1]),
    CpuShares: pick([0, 2, 1024, -1]),
    PidsLimit: pick([0, -1, 10]),
    PortBindings: pick([{}, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, { '80/tcp': [{ HostIp: 'x', HostPort: '99999' }] }, { x: null }]),
    RestartPolicy: pick([{ Name: 'no' }, { Name: 'on-failure', MaximumRetryCount: 2 }, { Name: 'always' }, { Name: 'x' }]),
    LogConfig: pick([
      { Type: 'json-file', Config: { 'max-size': pick(['1k', '0', 'x']), 'max-file': pick(['1', '0', '3', 'x']) } },
      { Type: 'none' },
      { Type: 'local' },
      { Type: 'syslog' },
    ]),
    Tmpfs: pick([{ '/t': 'size=1k,mode=1777' }, { rel: '' }, { '/t': 'bogus=1' }, { '/proc': '' }]),
    Ulimits: pick([[{ Name: 'nofile', Soft: 10, Hard: 5 }], [{ Name: 'bogus', Soft: 1, Hard: 1 }], [{ Name: 'nofile', Soft: 100, Hard: 100 }]]),
    ReadonlyRootfs: pick([true, false]),
    ExtraHosts: pick([['a:127.0.0.1'], ['bad'], ['h:host-gateway']]),
    Sysctls: pick([{ 'net.ipv4.ip_forward': '1' }, { 'kernel.shmmax': '1' }, { bogus: 'x' }, { '../../x': '1' }]),
    Init: pick([true, false]),
    AutoRemove: pick([true, false]),
    GroupAdd: pick([['audio'], ['99999'], ['bogusgroup']]),
    CapDrop: pick([['ALL'], ['bogus'], ['NET_RAW']]),
  };
  for (const k of Object.keys(hostConfig)) if (k !== 'NetworkMode' && rand() < 0.75) delete hostConfig[k];
  const body: Record<string, unknown> = {
    Image: pick(['busybox', 'busybox:latest', st.images[0]]),
    Cmd: pick([['true'], ['sleep', '2'], ['sh', '-c', 'exit 3']]),
    Env: pick([['A=1'], ['=x'], [''], ['A']]),
    WorkingDir: pick(['/', 'rel', '/nonexistent/deep', '/etc/passwd']),
    User: pick(['root', 'nobody', '99999:99999', 'x:y', ':']),
    Hostname: pick(['h', 'a'.repeat(70), 'bad host']),
    ExposedPorts: pick([{ '80/tcp': {} }, { '80/sctp': {} }, { 'x/tcp': {} }]),
    Healthcheck: pick([{ Test: ['CMD', 'true'], Interval: 1e9 }, { Test: ['NONE'] }, { Test: ['CMD-SHELL', 'exit 1'], Interval: 1 }, { Test: ['BAD'] }]),
    StopSignal: pick(['SIGTERM', 'SIGFOO', '99']),
    Tty: pick([true, false]),
  };
  for (const k of Object.keys(body)) if (k !== 'Image' && k !== 'Cmd' && rand() < 0.7) delete body[k];
  body.HostConfig = hostConfig;
  // A mutation may change anything but what keeps the host out of reach: the command and the
  // host namespaces, binds, devices and privileges a mutation cannot produce (ANY has none).
  if (rand() < 0.2) return { ...(mutate(body) as Record<string, unknown>), Cmd: body.Cmd };
  return body;
}

function bodyFor(st: State, method: string, pattern: string): unknown {
  if (/\/update$/.test(pattern)) {
    return mutate({
      Memory: pick([0, 6 * 1024 * 1024, -1, 1e20]), MemorySwap: pick([0, -1, 1e20]), CpuShares: pick([0, 2, -1, 262145]),
      PidsLimit: pick([0, -1, 10, null]), CpuQuota: pick([0, 999, 1000, -1]), CpuPeriod: pick([0, 999, 1000001]),
      CpusetCpus: pick(['', '0', '0-1', '5', 'x']), BlkioWeight: pick([0, 9, 10, 1001]), NanoCpus: pick([0, 1e9, -1]),
      RestartPolicy: pick([{ Name: 'always' }, { Name: 'on-failure', MaximumRetryCount: -1 }, { Name: 'x' }, {}]),
    });
  }
  if (/\/containers\/.*\/exec$/.test(pattern)) {
    const exec = mutate({
      Cmd: pick([['true'], ['echo', 'x'], [], [''], 'true', ['nonexistent-cmd']]), Env: pick([['A=1'], ['=x'], null]),
      User: pick(['', 'root', '99999:99999', 'x:y', ':']), WorkingDir: pick(['', '/', 'rel', '/nonexistent', '/etc/passwd']),
      Tty: pick([true, false]), AttachStdout: pick([true, false]), AttachStdin: pick([true, false]), DetachKeys: pick(['', 'ctrl-x', 'bad,keys']),
      ConsoleSize: pick([null, [24, 80], [-1, 5], [1e10, 1]]),
    }) as Record<string, unknown>;
    return { ...exec, Cmd: pick([['true'], ['echo', 'x'], ['nonexistent-cmd']]) };
  }
  if (/\/exec\/.*\/start$/.test(pattern)) return mutate({ Detach: pick([true, false]), Tty: pick([true, false]), ConsoleSize: pick([null, [24, 80], [-1, 2]]) });
  if (/\/networks\/.*\/(?:dis)?connect$/.test(pattern)) {
    return mutate({
      Container: pick([...st.containers, ...st.names, 'nope']),
      EndpointConfig: pick([
        {},
        { Aliases: ['a', '', 'a'.repeat(300)] },
        { IPAMConfig: { IPv4Address: pick(['', '10.1.2.3', 'x', '::1']) } },
        { MacAddress: pick(['zz', '02:42:ac:11:00:99', '01:00:00:00:00:00']) },
        { DriverOpts: { 'com.docker.network.endpoint.ifname': pick(['eth5', '', 'a'.repeat(20), '../x', 'lo', 'eth0']) } },
      ]),
      Force: pick([true, false]),
    });
  }
  if (method === 'GET' || method === 'HEAD') return undefined;
  return rand() < 0.5 ? undefined : mutate({ a: 1 });
}

function idFor(st: State, param: string, pattern: string): string {
  if (rand() < 0.1) return pick(HOSTILE);
  if (pattern.startsWith('/exec/')) return pick(st.execs);
  if (pattern.startsWith('/containers/')) return pick([...st.containers, ...st.names, st.containers[0]!.slice(0, 5)]);
  if (pattern.startsWith('/networks/')) return pick(st.networks);
  if (pattern.startsWith('/volumes/')) return pick(st.volumes);
  if (pattern.startsWith('/images/')) return encodeURIComponent(pick(st.images));
  return pick(HOSTILE) + param;
}

test(`the lifecycle behind the routes survives ${COUNT} seeded requests on things that exist (seed ${SEED})`, async () => {
  const d = daemon();
  const api = <T>(method: string, path: string, body?: unknown) => socketJson<T>(d.socket, method, path, body === undefined ? {} : { body });
  const st: State = { containers: [], names: [], execs: [], networks: [], volumes: [], images: [] };
  for (let i = 0; i < 4; i++) {
    const name = `fz-${i}`;
    const r = await api<{ Id: string }>('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep', '600'], Labels: { n: String(i) } });
    assert.equal(r.status, 201);
    st.containers.push(r.json.Id);
    st.names.push(name);
    if (i < 3) assert.equal((await socketRequest(d.socket, 'POST', `/containers/${name}/start`)).status, 204);
  }
  assert.equal((await socketRequest(d.socket, 'POST', '/containers/fz-1/pause')).status, 204);
  assert.equal((await socketRequest(d.socket, 'POST', '/containers/fz-2/stop?t=0')).status, 204);
  const exec = await api<{ Id: string }>('POST', '/containers/fz-0/exec', { Cmd: ['sleep', '1'] });
  st.execs.push(exec.json.Id);
  const net = await api<{ Id: string }>('POST', '/networks/create', { Name: 'fznet', Internal: true });
  st.networks.push(net.json.Id, 'fznet', 'bridge', 'none', 'host');
  for (const name of ['fzvol-0', 'fzvol-1']) st.volumes.push((await api<{ Name: string }>('POST', '/volumes/create', { Name: name })).json.Name);
  for (const im of (await api<Array<{ Id: string; RepoTags: string[] }>>('GET', '/images/json')).json) st.images.push(im.Id, ...im.RepoTags);

  const routes = buildRouter()
    .table()
    .filter((r) => !SKIP.some((re) => re.test(`${r.method} ${r.pattern}`)));
  assert.ok(routes.length > 30, `the route table has ${routes.length} routes to send`);
  const pid = d.pid;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let created = 0;
  let next = 0;
  const note = (status: number | null) => {
    if (status !== null) statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  const judge = (o: Outcome, what: string) => {
    note(o.status);
    if (o.timedOut) failures.push(`no answer within ${ANSWER_MS} ms: ${what}`);
    else if (o.status === null) failures.push(`connection closed without an answer: ${what}`);
    else if (o.status >= 500) {
      const message = (jsonBody<{ message?: string }>(o)?.message ?? o.body).trim();
      if (!DOCKER_500.some((re) => re.test(message))) failures.push(`status ${o.status} (${message}): ${what}`);
    }
  };
  const worker = async () => {
    while (next < COUNT) {
      const i = next++;
      if (rand() < 0.15) {
        const body = createBody(st, 'fznet');
        const what = `#${i} create ${JSON.stringify(body).slice(0, 500)}`;
        const o = await send('POST', `/containers/create?name=fzc-${i}`, body);
        judge(o, what);
        if (o.status !== 201) continue;
        created++;
        judge(await send('POST', `/containers/fzc-${i}/start`, undefined), `${what}, then its start`);
        continue;
      }
      const route = pick(routes);
      let target = route.pattern.replace(/\{(\w+)(?::[^}]*)?\}/g, (_m, param: string) => idFor(st, param, route.pattern));
      const q: string[] = [];
      for (let k = int(4); k > 0; k--) q.push(`${pick(QUERY_KEYS)}=${encodeURIComponent(pick(QUERY_VALUES))}`);
      // Events with an end, so that an answer always comes.
      if (route.pattern === '/events') q.push('until=1');
      if (q.length) target += `?${q.join('&')}`;
      const body = bodyFor(st, route.method, route.pattern);
      const o = await send(route.method, target, body);
      judge(o, `#${i} ${route.method} ${target.slice(0, 200)} ${body === undefined ? '' : JSON.stringify(body).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seen = JSON.stringify(Object.fromEntries(statuses));
  assert.equal(d.pid, pid, 'the daemon was restarted');
  assert.ok(await ping(d.socket), `/_ping does not answer after the fuzz\n${d.log().slice(-3000)}`);
  assert.doesNotMatch(d.log(), /BUG:/, 'an error escaped its request');
  assert.deepEqual(failures, [], `statuses: ${seen}\n${d.log().slice(-3000)}`);
  // It reached the lifecycle: containers were made and started, and requests failed and succeeded.
  assert.ok(created >= 10, `only ${created} containers were created (statuses ${seen})`);
  for (const status of [200, 204, 400, 404, 409]) assert.ok(statuses.has(status), `no request got a ${status} (statuses ${seen})`);

  const all = await api<Array<{ Id: string }>>('GET', '/containers/json?all=1');
  for (const c of all.json) {
    const r = await socketRequest(d.socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
    assert.ok(r.status === 204 || r.status === 404, `rm -f ${c.Id}: ${r.status} ${r.body}`);
  }
  await waitFor(async () => (await api<unknown[]>('GET', '/containers/json?all=1')).json.length === 0, { timeoutMs: 30_000, what: 'every container to go' });
  await waitFor(
    async () => {
      const l = await countLeaks(d);
      return l.mounts + l.conmon + l.cgroups + l.runc === 0;
    },
    { timeoutMs: 30_000, what: 'no mount, conmon, cgroup or runc container left' },
  ).catch(async (err: Error) => assert.fail(`${err.message}: ${JSON.stringify((await countLeaks(d)).details)}`));
});
