/**
 * The CRI streaming server against a real wharfd, with the real crictl (cri-tools v1.29.0, its
 * client-go SPDY client): exec (stdio, exit codes, stdin, tty under a pty, big output), attach,
 * port-forward into a sandbox's netns; WebSocket exec (v5 binary, v4 base64); and hostile
 * clients (unknown and reused tokens, garbage after the upgrade, oversized frames, header bombs,
 * too many streams, a slowloris) that get their answer while the daemon goes on serving.
 * Containers are made through the Docker API: a CRI container ID is the engine's container ID,
 * and a pod sandbox ID the ID of the container holding the pod's netns.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { constants as zc, deflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import WebSocket from 'ws';
import { criProto } from '../../src/cri/proto.js';
import { SPDY3_DICTIONARY } from '../../src/cri/streaming/spdy-dictionary.js';
import { REPO_ROOT, loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let criSock: string;
let sleeper: string;
let rpc: grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: { url: string }) => void) => void>;

/** crictl from scripts/cri-tools.sh (cached; builds cri-tools offline on a fresh machine). */
function crictlPath(): string {
  const dir = execFileSync('bash', [join(REPO_ROOT, 'scripts/cri-tools.sh')], { encoding: 'utf8', timeout: 600_000 }).trim().split('\n').pop()!;
  return join(dir, 'crictl');
}
let CRICTL: string;

function crictl(args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  return runCommand(CRICTL, ['--runtime-endpoint', `unix://${criSock}`, '--timeout', '30s', ...args], opts);
}

async function run(args: string[]): Promise<string> {
  const r = await d.docker(['run', '-d', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function call(method: 'Exec' | 'Attach' | 'PortForward', req: Record<string, unknown>): Promise<string> {
  return new Promise((resolve, reject) => rpc[method]!(req, (err, res) => (err ? reject(err) : resolve(res.url))));
}

const execUrl = (cmd: string[], o: { stdin?: boolean; tty?: boolean } = {}) =>
  call('Exec', { container_id: sleeper, cmd, stdin: !!o.stdin, stdout: true, stderr: !o.tty, tty: !!o.tty });

before(async () => {
  CRICTL = crictlPath();
  criSock = `/tmp/wharf-cri-stream-${randomBytes(4).toString('hex')}.sock`;
  d = await startDaemon({ args: ['--cri-socket', criSock] });
  await loadBusybox(d);
  sleeper = await run(['busybox', 'sleep', '1000']);
  const RuntimeService = criProto().runtime.v1.RuntimeService as unknown as new (addr: string, creds: grpc.ChannelCredentials) => typeof rpc;
  rpc = new RuntimeService(`unix://${criSock}`, grpc.credentials.createInsecure());
});
after(async () => {
  rpc?.close();
  await d?.cleanup();
});

describe('crictl exec', () => {
  test('stdout and stderr apart, exit 0', async () => {
    const r = await crictl(['exec', sleeper, 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('a non-zero exit code comes back as NonZeroExitCode with the code', async () => {
    const r = await crictl(['exec', sleeper, 'sh', '-c', 'exit 3']);
    // crictl 1.29 reports the code in its message and exits 1 (it does so for any exec error).
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /command terminated with exit code 3\b/);
  });

  test('stdin reaches the process and its EOF closes it', async () => {
    const r = await crictl(['exec', '-i', sleeper, 'sh', '-c', 'cat; echo done'], { input: 'abc\ndef\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'abc\ndef\ndone\n');
  });

  test('8 MiB of output arrives whole (no stall on SPDY windows)', async () => {
    const r = await crictl(['exec', sleeper, 'sh', '-c', 'dd if=/dev/zero bs=65536 count=128 2>/dev/null | tr "\\0" x']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 8 << 20);
    assert.match(r.stdout, /^x+$/);
  });

  test('-it under a pty: a terminal with the client size, and the exit code', () => {
    const out = execFileSync(
      'script',
      ['-qec', `stty cols 93 rows 29; ${CRICTL} --runtime-endpoint unix://${criSock} exec -it ${sleeper} sh -c 'tty; stty size; exit 4'; echo "rc=$?"`, '/dev/null'],
      { encoding: 'utf8', timeout: 60_000, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.match(out, /29 93/);
    assert.match(out, /exit code 4/);
  });

  test('a missing container fails the RPC', async () => {
    const r = await crictl(['exec', 'f'.repeat(64), 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such container/);
  });

  test('kubelet checks: tty with stderr, no stdio at all', async () => {
    await assert.rejects(call('Exec', { container_id: sleeper, cmd: ['true'], tty: true, stdout: true, stderr: true }), /tty and stderr cannot both be true/);
    await assert.rejects(call('Exec', { container_id: sleeper, cmd: ['true'] }), /one of stdin, stdout, or stderr must be set/);
  });
});

describe('crictl attach', () => {
  test('stdin in, stdout and stderr out, ends with the container', async () => {
    const id = await run(['-i', 'busybox', 'sh', '-c', 'read l; echo got:$l; echo bye >&2']);
    const r = await crictl(['attach', '-i', id], { input: 'hello\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got:hello\n');
    assert.equal(r.stderr, 'bye\n');
  });
});

describe('crictl port-forward', () => {
  test('reaches a server inside the sandbox netns over 127.0.0.1; a closed port is an error', async () => {
    const pod = await run(['busybox', 'sh', '-c', 'mkdir /www && echo hello-pf > /www/index.html && exec httpd -f -p 80 -h /www']);
    const pf = spawn(CRICTL, ['--runtime-endpoint', `unix://${criSock}`, 'port-forward', pod, ':80', ':81'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    pf.stdout.on('data', (c: Buffer) => (out += c.toString()));
    pf.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const ports = await waitFor(() => {
        const p80 = /Forwarding from 127\.0\.0\.1:(\d+) -> 80/.exec(out)?.[1];
        const p81 = /Forwarding from 127\.0\.0\.1:(\d+) -> 81/.exec(out)?.[1];
        return p80 && p81 ? { p80: Number(p80), p81: Number(p81) } : undefined;
      }, { timeoutMs: 20_000, what: `crictl port-forward to listen (${out})` });
      for (let i = 0; i < 3; i++) assert.equal(await httpGet(ports.p80), 'hello-pf\n');
      // HTTP/1.0: the server's close ends the response, so it must reach the client promptly.
      assert.match(await untilClosed(ports.p80, 'GET / HTTP/1.0\r\n\r\n', 10_000), /200 OK[\s\S]*hello-pf\n$/);
      // Nothing listens on 81 inside the pod: the relay's error comes back on the error stream.
      await httpGet(ports.p81).catch(() => undefined);
      await waitFor(() => /an error occurred forwarding \d+ -> 81: .*Connection refused/.test(out), { timeoutMs: 20_000, what: `the forwarding error (${out})` });
    } finally {
      pf.kill();
    }
  });
});

describe('WebSocket', () => {
  test('v5.channel.k8s.io: stdin, its close signal, stdout and the exit status', async () => {
    const url = await execUrl(['sh', '-c', 'cat; echo done; exit 7'], { stdin: true });
    const ws = new WebSocket(url, ['v5.channel.k8s.io']);
    const got = await wsSession(ws, (w) => {
      w.send(Buffer.concat([Buffer.from([0]), Buffer.from('hi\n')]));
      w.send(Buffer.from([255, 0]));
    });
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    assert.equal(got.get(1), 'hi\ndone\n');
    const status = JSON.parse(got.get(3) ?? '{}');
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  });

  test('v4.base64.channel.k8s.io: base64 text messages, Success status', async () => {
    const url = await execUrl(['sh', '-c', 'echo b64; echo e >&2']);
    const ws = new WebSocket(url, ['v4.base64.channel.k8s.io']);
    const got = await wsSession(ws, () => {});
    assert.equal(got.get(1), 'b64\n');
    assert.equal(got.get(2), 'e\n');
    assert.deepEqual(JSON.parse(got.get(3) ?? '{}'), { metadata: {}, status: 'Success' });
  });
});

describe('WebSocket port forward', () => {
  test('v4.channel.k8s.io: the port prefix on both channels, then the relayed bytes', async () => {
    const pod = await run(['busybox', 'sh', '-c', 'mkdir /www && echo hello-ws > /www/index.html && exec httpd -f -p 80 -h /www']);
    const got = await waitFor(async () => {
      // The server may not listen yet: a refused relay is reported on the error channel and
      // retried, each time with a URL of its own (a streaming URL serves one connection).
      const url = await call('PortForward', { pod_sandbox_id: pod });
      const ws = new WebSocket(`${url}?port=80`, ['v4.channel.k8s.io']);
      const r = await wsSession(ws, (w) => w.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')])));
      return r.get(0)?.includes('hello-ws') ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the page through a WebSocket port forward' });
    assert.ok(got.get(0)!.startsWith('P\0'), 'port 80 as two little-endian bytes first');
    assert.equal(got.get(1), 'P\0');
    assert.match(got.get(0)!, /HTTP\/1\.[01] 200/);
  });
});

describe('hostile clients', () => {
  let slow: net.Socket;
  let slowClosed: Promise<void>;
  let slowTimer: NodeJS.Timeout | undefined;
  after(() => clearInterval(slowTimer));

  test('a slowloris connects (headers that never end, a line a second)', async () => {
    // Checked at the end: the header timeout (10 s) must have cut it while the other cases ran.
    const port = Number(new URL(await execUrl(['true'])).port);
    slow = net.connect(port, '127.0.0.1');
    slowClosed = new Promise((r) => slow.once('close', () => r()));
    slow.on('error', () => {});
    slow.write('POST /exec/x HTTP/1.1\r\nHost: a\r\n');
    slowTimer = setInterval(() => slow.writable && slow.write('X-Slow: 1\r\n'), 1_000);
  });

  test('an unknown token is 404, a used token is 404, a wrong kind is 404', async () => {
    const url = await execUrl(['true']);
    const base = new URL(url);
    assert.equal((await rawUpgrade(`${base.origin}/exec/nosuchtoken`)).status, 404);
    const first = await rawUpgrade(url, ['v4.channel.k8s.io']);
    assert.equal(first.status, 101);
    first.socket.destroy();
    assert.equal((await rawUpgrade(url, ['v4.channel.k8s.io'])).status, 404);
    const pf = await call('PortForward', { pod_sandbox_id: sleeper });
    assert.equal((await rawUpgrade(pf.replace('/portforward/', '/exec/'), ['v4.channel.k8s.io'])).status, 404);
  });

  test('no protocol in common is 403 with the accepted ones; none at all is 400', async () => {
    const r = await rawUpgrade(await execUrl(['true']), ['v9.channel.k8s.io']);
    assert.equal(r.status, 403);
    assert.match(r.head, /X-Accepted-Stream-Protocol-Versions: v4\.channel\.k8s\.io/i);
    assert.equal((await rawUpgrade(await execUrl(['true']), [])).status, 400);
  });

  test('garbage after the upgrade ends that connection only', async () => {
    const up = await rawUpgrade(await execUrl(['true']), ['v4.channel.k8s.io']);
    assert.equal(up.status, 101);
    const reply = collect(up.socket);
    up.socket.write(Buffer.from('this is not SPDY at all, just noise from a hostile client........'));
    const bytes = await reply;
    assert.ok(isGoAway(bytes, 1), `expected GOAWAY PROTOCOL_ERROR, got ${bytes.toString('hex')}`);
  });

  test('an oversized frame is refused before its payload arrives', async () => {
    const up = await rawUpgrade(await execUrl(['true']), ['v4.channel.k8s.io']);
    const reply = collect(up.socket);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(1);
    head.writeUInt32BE(0xffffff, 4); // a 16 MiB DATA frame, of which nothing follows
    up.socket.write(head);
    assert.ok(isGoAway(await reply, 1));
  });

  test('a header decompression bomb is refused', async () => {
    const up = await rawUpgrade(await execUrl(['true']), ['v4.channel.k8s.io']);
    const reply = collect(up.socket);
    const block = Buffer.alloc(4 << 20); // zeros: 4 MiB that compress to a few KiB
    const compressed = deflateSync(block, { dictionary: Buffer.from(SPDY3_DICTIONARY), finishFlush: zc.Z_SYNC_FLUSH });
    up.socket.write(synStream(1, compressed));
    assert.ok(isGoAway(await reply, 1));
  });

  test('streams of unknown types are refused one by one; the session goes on', async () => {
    const up = await rawUpgrade(await execUrl(['true']), ['v4.channel.k8s.io']);
    const frames: Buffer[] = [];
    up.socket.on('data', (c: Buffer) => frames.push(c));
    const enc = headerEncoder();
    for (let i = 0; i < 100; i++) up.socket.write(synStream(2 * i + 1, enc([['streamtype', 'bogus']])));
    await waitFor(() => countFrames(Buffer.concat(frames), 3) >= 100, { what: 'RST_STREAM for each refused stream' });
    assert.ok(!up.socket.destroyed);
    up.socket.destroy();
  });

  test('port-forward streams past the cap are refused, those before it accepted', async () => {
    const up = await rawUpgrade(await call('PortForward', { pod_sandbox_id: sleeper }), ['portforward.k8s.io']);
    assert.equal(up.status, 101);
    const frames: Buffer[] = [];
    up.socket.on('data', (c: Buffer) => frames.push(c));
    const enc = headerEncoder();
    // Error streams whose data streams never come: each holds a slot until its pair times out.
    for (let i = 0; i < 100; i++) up.socket.write(synStream(2 * i + 1, enc([['streamtype', 'error'], ['port', '80'], ['requestid', String(i)]])));
    await waitFor(() => countFrames(Buffer.concat(frames), 2) + countFrames(Buffer.concat(frames), 3) >= 100, { what: 'an answer to every stream' });
    assert.equal(countFrames(Buffer.concat(frames), 2), 32, 'SYN_REPLY for the first 32');
    assert.equal(countFrames(Buffer.concat(frames), 3), 68, 'RST_STREAM for the rest');
    up.socket.destroy();
  });

  test('after all that, the daemon serves exec and the slowloris is gone', async () => {
    const r = await crictl(['exec', sleeper, 'echo', 'still-here']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'still-here\n');
    await waitFor(async () => (await Promise.race([slowClosed.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) as boolean, {
      timeoutMs: 25_000,
      what: 'the server to close the connection whose headers never end',
    });
    assert.equal((await d.docker(['version', '--format', '{{.Server.Version}}'])).code, 0);
  });
});

// ---- helpers -------------------------------------------------------------------------------

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Sends `request` and reads until the server closes; fails after `timeoutMs`. */
function untilClosed(port: number, request: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms (got ${JSON.stringify(got)})`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (got += c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', reject);
  });
}

/** An HTTP upgrade to SPDY/3.1 by hand: the status, the response head, and the socket after it. */
function rawUpgrade(url: string, protocols: string[] = ['v4.channel.k8s.io']): Promise<{ status: number; head: string; socket: net.Socket }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    socket.on('error', reject);
    const lines = [`POST ${u.pathname} HTTP/1.1`, `Host: ${u.host}`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'Content-Length: 0'];
    for (const p of protocols) lines.push(`X-Stream-Protocol-Version: ${p}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.subarray(0, end).toString();
      const rest = buf.subarray(end + 4);
      if (rest.length) queueMicrotask(() => socket.emit('data', rest));
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, socket });
    };
    socket.on('data', onData);
  });
}

function collect(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', () => {});
  });
}

/** A GOAWAY (type 7) with this status among the frames. */
function isGoAway(bytes: Buffer, status: number): boolean {
  for (let off = 0; off + 8 <= bytes.length; ) {
    const first = bytes.readUInt32BE(off);
    const len = bytes.readUInt32BE(off + 4) & 0xffffff;
    if (first === 0x80030007 && len === 8 && bytes.readUInt32BE(off + 12) === status) return true;
    off += 8 + len;
  }
  return false;
}

/** How many control frames of `type` (2 SYN_REPLY, 3 RST_STREAM) are among the frames. */
function countFrames(bytes: Buffer, type: number): number {
  let n = 0;
  for (let off = 0; off + 8 <= bytes.length; ) {
    if (bytes.readUInt32BE(off) === (0x80030000 | type) >>> 0) n++;
    off += 8 + (bytes.readUInt32BE(off + 4) & 0xffffff);
  }
  return n;
}

function synStream(id: number, headerBlock: Buffer): Buffer {
  const payload = Buffer.alloc(10);
  payload.writeUInt32BE(id);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0x80030001);
  head.writeUInt32BE(payload.length + headerBlock.length, 4);
  return Buffer.concat([head, payload, headerBlock]);
}

/** One connection's header compressor, as a client keeps it. */
function headerEncoder(): (headers: Array<[string, string]>) => Buffer {
  const z = new Deflate({ dictionary: SPDY3_DICTIONARY });
  let out: Uint8Array[] = [];
  z.onData = (c) => out.push(c);
  return (headers) => {
    const parts: Buffer[] = [];
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    parts.push(u32(headers.length));
    for (const [k, v] of headers) parts.push(u32(k.length), Buffer.from(k), u32(v.length), Buffer.from(v));
    out = [];
    z.push(Buffer.concat(parts), Z_SYNC_FLUSH);
    return Buffer.concat(out);
  };
}

/** Runs a WebSocket exec session to its close; returns the text of each channel. */
function wsSession(ws: WebSocket, onOpen: (ws: WebSocket) => void): Promise<Map<number, string>> {
  const got = new Map<number, string>();
  return new Promise((resolve, reject) => {
    ws.on('open', () => onOpen(ws));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let ch: number;
      let text: string;
      if (isBinary) {
        ch = data[0]!;
        text = data.subarray(1).toString();
      } else {
        const s = data.toString();
        ch = s.charCodeAt(0) - 48;
        text = Buffer.from(s.slice(1), 'base64').toString();
      }
      got.set(ch, (got.get(ch) ?? '') + text);
    });
    ws.on('close', () => resolve(got));
    ws.on('error', reject);
  });
}
