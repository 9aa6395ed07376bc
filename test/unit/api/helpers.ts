/** Test helpers: a recording stub Backend, a server on a temp unix socket, and raw HTTP clients. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, ContainerBackend, ImageBackend, SystemBackend } from '../../../src/api/backend.js';
import { startApiServer } from '../../../src/api/server.js';

export interface Call {
  method: string;
  args: unknown[];
}

type Overrides = {
  containers?: Partial<ContainerBackend>;
  images?: Partial<ImageBackend>;
  system?: Partial<SystemBackend>;
};

/** Every method records its call, then runs the override or returns a plausible default. */
function recorder<T extends object>(group: string, calls: Call[], defaults: T, overrides: Partial<T> = {}): T {
  const out: Record<string, unknown> = {};
  const all = { ...defaults, ...overrides } as Record<string, unknown>;
  for (const [k, fn] of Object.entries(all)) {
    if (typeof fn !== 'function') continue;
    out[k] = (...args: unknown[]) => {
      calls.push({ method: `${group}.${k}`, args });
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return out as T;
}

async function* noMessages() {}

export function stubBackend(calls: Call[], o: Overrides = {}): Backend {
  const containers: ContainerBackend = {
    create: async () => ({ Id: 'c'.repeat(64), Warnings: [] }),
    start: async () => {},
    stop: async () => {},
    restart: async () => {},
    kill: async () => {},
    remove: async () => {},
    rename: async () => {},
    inspect: async (ref) => ({ Id: ref }) as never,
    list: async () => [],
    wait: async () => ({ result: Promise.resolve({ StatusCode: 0 }), cancel: () => {} }),
    attach: async () => ({ tty: false, run: async () => {} }),
    logs: async () => ({ tty: false, entries: noMessages() as never, close() {} }),
    top: async () => ({ Titles: ['PID'], Processes: [['1']] }),
    resize: async () => {},
    prune: async () => ({ ContainersDeleted: [], SpaceReclaimed: 0 }),
    stats: async () => ({ samples: noMessages() as never, close() {} }),
  };
  const images: ImageBackend = {
    importImage: () => noMessages(),
    load: () => noMessages(),
    save: async (_names, out) => {
      out.end();
    },
    list: async () => [],
    inspect: async (ref) => ({ Id: ref }) as never,
    history: async () => [],
    remove: async () => [],
    tag: async () => {},
    prune: async () => ({ ImagesDeleted: [], SpaceReclaimed: 0 }),
    search: async () => [],
    distributionInspect: async () => ({ Descriptor: { mediaType: '', digest: '', size: 0 }, Platforms: null }),
    pluginPrivileges: async () => [],
    pull: () => noMessages(),
    push: () => noMessages(),
    login: async () => ({ Status: 'Login Succeeded', IdentityToken: '' }),
  };
  const system: SystemBackend = {
    version: async () => ({ Version: '0.1.0' }) as never,
    info: async () => ({ ID: 'x' }) as never,
  };
  return {
    containers: recorder('containers', calls, containers, o.containers),
    images: recorder('images', calls, images, o.images),
    system: recorder('system', calls, system, o.system),
    networks: notStubbed('networks'),
    events: notStubbed('events'),
    exec: notStubbed('exec'),
    volumes: notStubbed('volumes'),
    files: notStubbed('files'),
    control: notStubbed('control'),
    diskUsage: notStubbed('diskUsage'),
    build: notStubbed('build'),
    buildkit: notStubbed('buildkit'),
  };
}

/** A backend these tests do not exercise: any call fails the request (500) with what was called. */
function notStubbed<T extends object>(group: string): T {
  return new Proxy({} as T, {
    get: (_target, key) => () => {
      throw new Error(`${group}.${String(key)} is not stubbed`);
    },
  });
}

export interface TestServer {
  sock: string;
  dir: string;
  calls: Call[];
  close(): Promise<void>;
}

export async function startStubServer(o: Overrides = {}, serverOpts: { onRequestEnd?: () => void } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-api-'));
  const sock = join(dir, 'sub', 'api.sock');
  const calls: Call[] = [];
  const server = await startApiServer(stubBackend(calls, o), { hosts: [`unix://${sock}`], ...serverOpts });
  return {
    sock,
    dir,
    calls,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): unknown;
}

export function request(
  sock: string,
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: sock, method, path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body,
          text: body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw connection that sends `head` and collects every byte the server sends back. */
export interface RawConn {
  socket: Socket;
  /** Resolves when `pred` holds for everything received so far. */
  until(pred: (all: Buffer) => boolean): Promise<Buffer>;
  /** Resolves with everything once the server ends the connection. */
  ended: Promise<Buffer>;
}

export function rawConnect(sock: string, head: string): RawConn {
  const socket = connect({ path: sock });
  let all = Buffer.alloc(0);
  const waiters: Array<{ pred: (b: Buffer) => boolean; resolve: (b: Buffer) => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pred(all)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(all);
      }
    }
  };
  socket.on('data', (d: Buffer) => {
    all = Buffer.concat([all, d]);
    check();
  });
  const ended = new Promise<Buffer>((resolve) => socket.once('end', () => resolve(all)));
  socket.write(head);
  return {
    socket,
    until: (pred) =>
      new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        socket.once('close', () => reject(new Error(`connection closed; got ${JSON.stringify(all.toString('latin1'))}`)));
        check();
      }),
    ended,
  };
}

export const headerEnd = (b: Buffer) => b.indexOf('\r\n\r\n') >= 0;

/** Splits a raw HTTP response into status line, headers (lower-cased) and the bytes after them. */
export function splitRaw(all: Buffer): { statusLine: string; headers: Record<string, string>; rest: Buffer } {
  const i = all.indexOf('\r\n\r\n');
  const lines = all.subarray(0, i).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  return { statusLine: lines[0]!, headers, rest: all.subarray(i + 4) };
}

/** Parses stdcopy frames into [stream, payload] pairs; throws on a truncated frame. */
export function parseFrames(buf: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 8) throw new Error('truncated header');
    const len = buf.readUInt32BE(off + 4);
    if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) throw new Error('bad header padding');
    out.push([buf[off]!, buf.subarray(off + 8, off + 8 + len).toString('utf8')]);
    off += 8 + len;
  }
  return out;
}
