/**
 * A bounded, seeded fuzz of every API route against a real wharfd: random methods, paths
 * (traversal, encodings, huge and odd ids), query values, headers and bodies (wrong JSON types,
 * huge numbers, invalid UTF-8, truncated bodies, wrong content types). The routes come from the
 * router's own table, so a new route is fuzzed without touching this file.
 *
 * Asserted: the daemon is the same process and answers /_ping, no error reached the
 * process-level safety net ("BUG:" in its log), every request is answered (status line) within
 * a bound, and nothing gets a 5xx.
 *
 * Nothing can leave the temp dirs or the machine: the daemon has no images and no containers (so
 * nothing can be started or bind-mounted), bodies never hold a well-typed object (so no network
 * is created), and the routes that reach registries (pull via fromImage, push, auth) are not
 * fuzzed. WHARF_FUZZ_SEED and WHARF_FUZZ_COUNT override the seed and the count.
 */
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { buildRouter } from '../../src/api/server.js';
import { prng } from '../lib/prng.js';
import { ping, startDaemon, type Daemon } from './harness.js';

const SEED = Number(process.env.WHARF_FUZZ_SEED ?? 20261204);
const COUNT = Number(process.env.WHARF_FUZZ_COUNT ?? 3000);
const CONCURRENCY = 8;
/** A request must have its status line within this (a busy shared CI machine, not a speed test). */
const ANSWER_MS = 15_000;

/**
 * Routes that may contact registries or URLs: never fuzzed (no traffic may leave the machine).
 * A search goes to Docker Hub's index, a build's FROM pulls a missing base image, a plugin's
 * privileges are read from its registry, and a distribution inspect asks the name's registry.
 */
const REMOTE = [
  /^POST \/images\/\{name:\.\*\}\/push$/,
  /^POST \/auth$/,
  /^GET \/images\/search$/,
  /^POST \/build$/,
  /^GET \/plugins\/privileges$/,
  /^GET \/distribution\/\{name:\.\*\}\/json$/,
];

/** Where Docker itself answers 5xx: an engine outside a swarm (503), features wharfd does not have (501), BuildKit's endpoints not upgraded (500). */
const DOCKER_5XX: Array<[RegExp, number]> = [
  [/^\/(?:v[^/]*\/)?(?:swarm|services|nodes|tasks|secrets|configs)(?:\/|\?|$)/, 503],
  [/^\/(?:v[^/]*\/)?swarm\/(?:init|join)(?:\?|$)/, 501],
  [/^\/(?:v[^/]*\/)?plugins\/(?:pull|create)(?:\?|$)/, 501],
  // Checkpoints without experimental features; a volume update (cluster volumes) without a swarm.
  [/^\/(?:v[^/]*\/)?containers\/.*\/checkpoints(?:\/[^/?]*)?(?:\?|$)/, 501],
  [/^\/(?:v[^/]*\/)?volumes\//, 503],
  // BuildKit's endpoints without an h2c upgrade: moby's plain errors.
  [/^\/(?:v[^/]*\/)?(?:grpc|session)(?:\?|$)/, 500],
];
const dockerAnswers5xx = (target: string, status: number) => DOCKER_5XX.some(([re, code]) => code === status && re.test(target));

let d: Daemon;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.cleanup();
});

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const IDS = [
  'abc', 'busybox', 'busybox:latest', '..', '../../etc/passwd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/etc/passwd', '%00', 'x%00y',
  '%ff%fe', 'a'.repeat(300), 'f'.repeat(64), 'sha256:' + 'e'.repeat(64), '%20', 'UPPER', 'é', '%C3%A9', '-', '.', '*', 'a/b/c',
  'localhost:5000/x:y', 'x@sha256:1', '$(id)', '`id`', 'a;b', '%0a', '%0d%0aX-Injected: 1',
];
const QUERY_KEYS = [
  'all', 'force', 'filters', 'name', 'tag', 'repo', 'since', 'until', 'tail', 'follow', 'stream', 'signal', 'h', 'w', 'path', 'condition',
  't', 'timeout', 'changes', 'platform', 'v', 'link', 'noprune', 'quiet', 'names', 'container', 'pause', 'detachKeys', 'logs', 'stdin',
  'stdout', 'stderr', 'ps_args', 'size', 'limit', 'digests', 'scope', 'verbose', 'one-shot', 'copyUIDGID', 'noOverwriteDirNonDir',
  'message', 'comment', 'author', 'timestamps', 'filter', 'fromSrc',
];
const QUERY_VALUES = [
  '', '0', '1', '-1', 'true', 'false', 'yes', '99999999999999999999', '1e400', 'NaN', '-', '../../x', '%', '%zz', '{', '{"a":1}',
  '{"label":{"a":true}}', '{"a":["x"]}', '[]', 'null', 'a'.repeat(5000), '%00', 'SIGKILL', 'SIGFOO', 'not-running', 'removed', '10m',
  '2024-01-01T00:00:00Z', '1.5', 'linux/amd64', 'windows', 'CMD ["x"]', 'ENV a', 'x:y:z', 'é', '%ff',
];
/** Field names of Docker's request structs, in odd cases too (the decoder folds case). */
const FIELDS = [
  'Image', 'Cmd', 'Env', 'HostConfig', 'Binds', 'Mounts', 'Memory', 'CpuShares', 'Name', 'Driver', 'Labels', 'IPAM', 'Config',
  'Subnet', 'Container', 'EndpointConfig', 'Force', 'Tty', 'Detach', 'DetachKeys', 'detachKeys', 'ConsoleSize', 'User', 'WorkingDir',
  'Privileged', 'DriverOpts', 'NetworkingConfig', 'EndpointsConfig', 'RestartPolicy', 'MaximumRetryCount', 'PortBindings',
  'ExposedPorts', 'Healthcheck', 'Test', 'Ulimits', 'Devices', 'SecurityOpt', 'Sysctls', 'Tmpfs', 'LogConfig', 'username', 'password',
  'serveraddress', 'AttachStdin', 'Entrypoint', 'StopTimeout', 'BlkioWeight', 'PidsLimit', 'Options', 'image', 'HOSTCONFIG', '__proto__',
  'constructor', 'toString',
];
const NUMBERS = ['1e400', '-1e400', '9223372036854775808', '-9223372036854775809', '1.5', '-0', '0', '18446744073709551616', '1e-400', '4294967296'];

/** A JSON value that is never a plain string (a string could make a well-typed name). */
function value(depth: number): string {
  switch (int(depth > 2 ? 4 : 7)) {
    case 0:
      return pick(NUMBERS);
    case 1:
      return pick(['true', 'false']);
    case 2:
      return 'null';
    case 3:
      return `${int(1000) - 500}`;
    case 4:
      return `[${Array.from({ length: int(4) }, () => (rand() < 0.5 ? JSON.stringify(pick(IDS)) : value(depth + 1))).join(',')}]`;
    case 5:
      return object(depth + 1);
    default:
      return `{${JSON.stringify(pick(FIELDS))}:${value(depth + 1)}}`;
  }
}

function object(depth: number): string {
  const n = 1 + int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`${JSON.stringify(pick(FIELDS))}:${value(depth)}`);
  return `{${parts.join(',')}}`;
}

function body(): { data: Buffer; contentType?: string; truncate?: boolean } {
  switch (int(10)) {
    case 0:
      return { data: Buffer.alloc(0) };
    case 1:
      return { data: Buffer.from(pick(['{', '{"Image":', '[1,2', '{"a":1}}', 'nul', '"x"', '123', '[]', 'true', '{}{}'])), contentType: 'application/json' };
    case 2:
      // Invalid UTF-8 inside and around JSON.
      return { data: Buffer.concat([Buffer.from('{"Labels":{"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('":"\xff"}}')]), contentType: 'application/json' };
    case 3:
      return { data: Buffer.from(object(0)), contentType: pick(['text/plain', 'application/x-tar', 'application/json; charset=utf-8', 'APPLICATION/JSON', '']) };
    case 4:
      return { data: Buffer.from(object(0)), contentType: 'application/json', truncate: true };
    case 5:
      return { data: Buffer.from(Array.from({ length: int(2048) }, () => int(256))), contentType: pick(['application/json', 'application/x-tar']) };
    default:
      return { data: Buffer.from(rand() < 0.2 ? value(0) : object(0)), contentType: 'application/json' };
  }
}

function path(pattern: string): string {
  const filled = pattern.replace(/\{(\w+)(?::[^}]*)?\}/g, () => pick(IDS));
  const versioned = rand() < 0.5 ? `/v${pick(['1.24', '1.41', '1.47', '1.50', '1.12', '9.99', '1.x'])}${filled}` : filled;
  const q: string[] = [];
  const create = /\/images\/create$/.test(pattern);
  for (let i = int(4); i > 0; i--) {
    const key = pick(QUERY_KEYS);
    const v = encodeURIComponent(pick(QUERY_VALUES));
    // An import's fromSrc other than '-' is a URL the daemon fetches: no traffic may leave the machine.
    if (!(create && key === 'fromSrc')) q.push(`${key}=${v}`);
  }
  if (create && rand() < 0.7) q.push('fromSrc=-');
  return q.length ? `${versioned}?${q.join('&')}` : versioned;
}

interface Outcome {
  status: number | null;
  /** The connection closed without a status line. */
  closed: boolean;
}

/** Sends raw HTTP on the daemon's socket; resolves at the status line, a close, or the bound. */
function send(method: string, target: string, b: ReturnType<typeof body>, upgrade: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect(d.socket);
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ status: null, closed: false }), ANSWER_MS);
    sock.on('error', () => finish({ status: null, closed: true }));
    sock.on('close', () => finish({ status: null, closed: true }));
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got.toString('latin1'));
      if (m) finish({ status: Number(m[1]), closed: false });
    });
    const headers = [`${method} ${target} HTTP/1.1`, 'Host: localhost'];
    if (b.contentType) headers.push(`Content-Type: ${b.contentType}`);
    if (b.data.length || rand() < 0.5) headers.push(`Content-Length: ${b.data.length}`);
    if (upgrade) headers.push('Connection: Upgrade', 'Upgrade: tcp');
    if (rand() < 0.1) headers.push(`X-Registry-Auth: ${pick(['!!!', 'e30=', 'eyJ1c2VybmFtZSI6MX0=', 'a'.repeat(3000)])}`);
    const head = Buffer.from(headers.join('\r\n') + '\r\n\r\n', 'latin1');
    if (b.truncate) {
      // Announce more than is sent, then hang up: the daemon must let go of the request.
      const cut = b.data.subarray(0, Math.max(0, b.data.length - 1 - int(b.data.length)));
      sock.end(Buffer.concat([Buffer.from(head.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${b.data.length + 10}`), 'latin1'), cut]));
    } else {
      sock.write(Buffer.concat([head, b.data]));
    }
  });
}

test(`every route survives ${COUNT} malformed requests (seed ${SEED})`, async () => {
  const routes = buildRouter()
    .table()
    .filter((r) => !REMOTE.some((re) => re.test(`${r.method} ${r.pattern}`)));
  assert.ok(routes.length > 40, `the route table has ${routes.length} routes`);
  const pid = d.pid;
  const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'PATCH', 'OPTIONS'];
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < COUNT) {
      const i = next++;
      const route = routes[i % routes.length]!;
      const method = rand() < 0.9 ? route.method : pick(METHODS);
      const target = path(route.pattern);
      const b = method === 'GET' || method === 'HEAD' ? (rand() < 0.2 ? body() : { data: Buffer.alloc(0) }) : body();
      const upgrade = rand() < 0.05;
      const o = await send(method, target, b, upgrade);
      const what = `#${i} ${method} ${target.slice(0, 200)} (${b.contentType ?? 'no type'}, ${b.data.length} bytes${b.truncate ? ', truncated' : ''})`;
      if (o.status !== null) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      if (o.status === null && !o.closed) failures.push(`no answer within ${ANSWER_MS} ms: ${what}`);
      else if (o.status === null && !b.truncate && !upgrade) failures.push(`connection closed without an answer: ${what}`);
      else if (o.status !== null && o.status >= 500 && !dockerAnswers5xx(target, o.status)) failures.push(`status ${o.status}: ${what}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(d.pid, pid, 'the daemon was restarted');
  assert.ok(await ping(d.socket), `/_ping does not answer after the fuzz\n${d.log().slice(-3000)}`);
  assert.doesNotMatch(d.log(), /BUG:/, 'an error escaped its request');
  assert.deepEqual(failures, [], `statuses: ${JSON.stringify(Object.fromEntries(statuses))}\n${d.log().slice(-3000)}`);
  // Nothing was created but (anonymous) volumes in the daemon's own data root, and images
  // imported from an empty upload (Docker imports an empty stream as one empty layer).
  const list = async (args: string[]) => (await d.docker(args)).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(await list(['ps', '-aq']), []);
  for (const id of await list(['images', '-aq'])) {
    const made = await list(['image', 'inspect', id, '--format', '{{.Comment}}|{{json .RootFS.Layers}}']);
    assert.deepEqual(made, [`Imported from -|["sha256:${createHash('sha256').digest('hex')}"]`], `image ${id}`);
  }
  assert.deepEqual(await list(['network', 'ls', '--format', '{{.Name}}']), ['bridge', 'host', 'none']);
  // It really reached the handlers, not only the router's 404.
  assert.ok([...statuses.keys()].some((s) => s === 400), 'no request got a 400');
  assert.ok([...statuses.keys()].some((s) => s >= 200 && s < 300), 'no request succeeded');
});
