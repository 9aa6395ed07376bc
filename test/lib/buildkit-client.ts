/**
 * A BuildKit client for tests, doing what the Docker CLI's buildx plugin (v0.10) does against a
 * daemon's BuildKit API: it opens /session and serves its shared directories there (fsutil's
 * sending side of FileSync/DiffCopy), dials /grpc, and runs a build as buildx does — Control.Solve
 * with the session and the moby exporter, and beside it the gateway's Ping, Solve (dockerfile.v0)
 * and Return — while it reads Status. buildx itself cannot be installed here (no package; see
 * docs/architecture.md), so this speaks the same messages, checked against buildx by hand. Its
 * sender sends paths and sizes as given, so tests can be a hostile client too.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { GrpcClient, GrpcError, GrpcServer, type ServerCall } from '../../src/buildkit/grpc.js';
import { messages, PACKET_DATA, PACKET_FIN, PACKET_REQ, PACKET_STAT, type StatusResponse, type Stat } from '../../src/buildkit/proto.js';
import { PatternMatcher } from '../../src/lib/pattern-matcher.js';
import { goFileMode } from '../../src/lib/go-file-mode.js';

/** An entry of a shared directory; `mode` is a unix mode (type bits included). */
export interface SharedEntry {
  path: string;
  mode: number;
  data?: Buffer | string;
  linkname?: string;
  /** The owner the client reports (0 unless given). */
  uid?: number;
  gid?: number;
}

export const file = (path: string, data: string, mode = 0o644): SharedEntry => ({ path, mode: 0o100000 | mode, data });
export const dir = (path: string, mode = 0o755): SharedEntry => ({ path, mode: 0o040000 | mode });
export const symlink = (path: string, linkname: string): SharedEntry => ({ path, mode: 0o120777, linkname });

/** Opens an upgraded connection (101) to `path` on the daemon's socket; `connectionHeader: false` sends `Upgrade:` alone, as moby's own tests do. */
export async function dialUpgrade(
  socketPath: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  opts: { connectionHeader?: boolean } = {},
): Promise<{ socket: Socket; head: Buffer }> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let req = `POST ${path} HTTP/1.1\r\nHost: docker\r\n${opts.connectionHeader === false ? '' : 'Connection: Upgrade\r\n'}Upgrade: h2c\r\n`;
  for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) req += `${k}: ${x}\r\n`;
  socket.write(req + '\r\n');
  let buf = Buffer.alloc(0);
  for (;;) {
    const chunk = await new Promise<Buffer>((resolve, reject) => {
      socket.once('data', resolve);
      socket.once('error', reject);
      socket.once('end', () => reject(new Error(`${path}: closed before the answer: ${buf.toString()}`)));
    });
    socket.removeAllListeners('data').removeAllListeners('error').removeAllListeners('end');
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) continue;
    const status = buf.subarray(0, end).toString();
    if (!status.startsWith('HTTP/1.1 101')) throw new Error(`${path}: ${status}\n${buf.subarray(end + 4).toString()}`);
    socket.pause();
    return { socket, head: buf.subarray(end + 4) };
  }
}

/**
 * A metadata key's values as fsutil's sender reads them: the header's bytes as a Go string (UTF-8;
 * node hands them over as latin1), each value QueryUnescaped when `<key>-encoded` is true.
 */
function filesyncMetadata(md: ServerCall['metadata'], key: string): string[] {
  const raw = (h: string | string[] | undefined) => (Array.isArray(h) ? h : h === undefined ? [] : [h]).flatMap((x) => x.split(',').map((s) => Buffer.from(s.trim(), 'latin1').toString('utf8')));
  const encoded = ['1', 't', 'true'].includes((raw(md[`${key}-encoded`])[0] ?? '').toLowerCase());
  return raw(md[key]).map((v) => (encoded ? decodeURIComponent(v.replace(/\+/g, ' ')) : v));
}

/** fsutil's sender: the entries `call` asks for (its include/exclude metadata), then the files it requests. */
async function sendDirectory(call: ServerCall, entries: SharedEntry[], opts: { announce?: Record<string, number> }): Promise<void> {
  const include = filesyncMetadata(call.metadata, 'include-patterns');
  const exclude = new PatternMatcher(filesyncMetadata(call.metadata, 'exclude-patterns'));
  const chosen = [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .filter((e) => (include.length === 0 || include.includes(e.path)) && !exclude.matches(e.path));
  const incoming = call.messages();
  const send = (p: { type: number; stat?: Stat; ID?: number; data?: Buffer }) => call.send(messages.Packet.encode({ ID: 0, data: Buffer.alloc(0), ...p }));
  for (const e of chosen) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    await send({
      type: PACKET_STAT,
      stat: { path: e.path, mode: goFileMode(e.mode), uid: e.uid ?? 0, gid: e.gid ?? 0, size: opts.announce?.[e.path] ?? data.length, modTime: Date.UTC(2026, 0, 1) * 1e6, linkname: e.linkname ?? '', devmajor: 0, devminor: 0, xattrs: {} },
    });
  }
  await send({ type: PACKET_STAT });
  for await (const m of { [Symbol.asyncIterator]: () => incoming }) {
    const p = messages.Packet.decode(m);
    if (p.type === PACKET_REQ) {
      const e = chosen[p.ID];
      if (!e) throw new Error(`request for unknown file ${p.ID}`);
      const data = Buffer.from(e.data ?? '');
      for (let off = 0; off < data.length; off += 32 << 10) await send({ type: PACKET_DATA, ID: p.ID, data: data.subarray(off, off + (32 << 10)) });
      await send({ type: PACKET_DATA, ID: p.ID });
    } else if (p.type === PACKET_FIN) {
      // The receiver half-closes after this; leaving the loop early would reset the stream.
      await send({ type: PACKET_FIN });
    }
  }
}

export interface BuildRequest {
  /** Directories the session shares, by name (`context`, `dockerfile`). */
  dirs: Record<string, SharedEntry[]>;
  /** The frontend's attributes (`filename`, `build-arg:X`, `target`…). */
  attrs?: Record<string, string>;
  /** The moby exporter's `name` attribute. */
  name?: string;
  /** The exporter; `moby` by default. */
  exporter?: string;
  /** Control.Solve names the frontend itself (as buildctl does) instead of going through the gateway. */
  direct?: boolean;
  /** Sizes to announce instead of the true ones, by path (a lying sender). */
  announce?: Record<string, number>;
  /** Never opens the session (the build must give up). */
  noSession?: boolean;
  /** Secrets the session serves (`--secret id=…`), by id. */
  secrets?: Record<string, string>;
  /** ssh agents the session forwards (`--ssh id=…`), by id: each message's bytes in, the answer out. */
  sshAgents?: Record<string, (request: Buffer) => Buffer>;
  /** What the client allows (`--allow network.host`). */
  entitlements?: string[];
}

export interface ReceivedFile {
  mode: number;
  uid: number;
  gid: number;
  data?: Buffer;
  linkname: string;
  /** Nanoseconds since the epoch. */
  modTime: number;
}

/** What the `local` and `tar` exporters sent to the session. */
export interface ClientOutput {
  tar?: Buffer;
  /** By path: the Go mode, the owner, a file's bytes, a link's target. */
  files?: Map<string, ReceivedFile>;
}

/** The receiving side of FileSend/DiffCopy: a tar's bytes, or fsutil's packets of a directory. */
async function receiveOutput(call: ServerCall, kind: 'tar' | 'local', out: ClientOutput): Promise<void> {
  const incoming = call.messages();
  if (kind === 'tar') {
    const parts: Buffer[] = [];
    for await (const m of { [Symbol.asyncIterator]: () => incoming }) parts.push(Buffer.from(messages.BytesMessage.decode(m).data));
    out.tar = Buffer.concat(parts);
    return;
  }
  const files = new Map<string, ReceivedFile>();
  const ids: string[] = [];
  const next = async () => {
    const r = await incoming.next();
    if (r.done) throw new Error('the sender ended early');
    return messages.Packet.decode(r.value);
  };
  for (;;) {
    const p = await next();
    if (!p.stat || p.stat.path === '') break;
    ids.push(p.stat.path);
    files.set(p.stat.path, { mode: p.stat.mode, uid: p.stat.uid, gid: p.stat.gid, linkname: p.stat.linkname, modTime: Number(p.stat.modTime) });
  }
  for (const [id, path] of ids.entries()) {
    const f = files.get(path)!;
    if ((f.mode >>> 0) >= 2 ** 24 || f.linkname) continue;
    await call.send(messages.Packet.encode({ type: PACKET_REQ, ID: id, data: Buffer.alloc(0) }));
    const parts: Buffer[] = [];
    for (;;) {
      const p = await next();
      if (p.type !== PACKET_DATA || p.ID !== id) throw new Error(`unexpected packet ${p.type} for ${path}`);
      if (p.data.length === 0) break;
      parts.push(Buffer.from(p.data));
    }
    f.data = Buffer.concat(parts);
  }
  await call.send(messages.Packet.encode({ type: PACKET_FIN, ID: 0, data: Buffer.alloc(0) }));
  for await (const m of { [Symbol.asyncIterator]: () => incoming }) void m;
  out.files = files;
}

export interface BuildResult {
  exporterResponse?: Record<string, string>;
  /** What a `local` or `tar` exporter sent. */
  output: ClientOutput;
  error?: GrpcError;
  /** Every status update, in order. */
  status: StatusResponse[];
}

/** Runs one build the way buildx does. */
export async function buildkitBuild(socketPath: string, req: BuildRequest): Promise<BuildResult> {
  const sessionId = randomUUID();
  const output: ClientOutput = {};
  const ref = randomUUID();
  let sessionSocket: Socket | null = null;
  if (!req.noSession) {
    const methods = [
      '/moby.filesync.v1.FileSync/DiffCopy',
      '/moby.filesync.v1.FileSync/TarStream',
      ...(req.secrets ? ['/moby.buildkit.secrets.v1.Secrets/GetSecret'] : []),
      ...(req.sshAgents ? ['/moby.sshforward.v1.SSH/CheckAgent', '/moby.sshforward.v1.SSH/ForwardAgent'] : []),
      ...(req.exporter === 'local' || req.exporter === 'tar' ? ['/moby.filesync.v1.FileSend/DiffCopy'] : []),
    ];
    const s = await dialUpgrade(socketPath, '/v1.47/session', {
      'X-Docker-Expose-Session-Uuid': sessionId,
      'X-Docker-Expose-Session-Name': 'wharf-test',
      'X-Docker-Expose-Session-Sharedkey': '',
      'X-Docker-Expose-Session-Grpc-Method': methods,
    });
    sessionSocket = s.socket;
    // On the session the client is the gRPC server.
    const server = new GrpcServer(
      new Map([
        [
          '/moby.filesync.v1.FileSync/DiffCopy',
          async (call: ServerCall) => {
            const name = filesyncMetadata(call.metadata, 'dir-name')[0] ?? '';
            const entries = req.dirs[name];
            if (!entries) throw new GrpcError(5, `no access allowed to dir "${name}"`);
            await sendDirectory(call, entries, { ...(req.announce ? { announce: req.announce } : {}) });
          },
        ],
        [
          '/moby.filesync.v1.FileSend/DiffCopy',
          (call: ServerCall) => receiveOutput(call, req.exporter === 'tar' ? 'tar' : 'local', output),
        ],
        [
          '/moby.sshforward.v1.SSH/CheckAgent',
          async (call: ServerCall) => {
            let id = '';
            for await (const m of call.messages()) id = messages.CheckAgentRequest.decode(m).ID;
            // buildx's answer for an id it was not given.
            if (!req.sshAgents?.[id]) throw new GrpcError(5, `unset ssh forward key ${id}`);
            await call.send(Buffer.alloc(0));
          },
        ],
        [
          '/moby.sshforward.v1.SSH/ForwardAgent',
          async (call: ServerCall) => {
            const agent = req.sshAgents?.[String(call.metadata['buildkit.ssh.id'] ?? '')];
            if (!agent) throw new GrpcError(5, 'no such agent');
            for await (const m of call.messages()) await call.send(messages.BytesMessage.encode({ data: agent(messages.BytesMessage.decode(m).data) }));
          },
        ],
        [
          '/moby.buildkit.secrets.v1.Secrets/GetSecret',
          async (call: ServerCall) => {
            let id = '';
            for await (const m of call.messages()) id = messages.GetSecretRequest.decode(m).ID;
            const value = req.secrets?.[id];
            if (value === undefined) throw new GrpcError(5, `secret ${id} not found`);
            await call.send(messages.GetSecretResponse.encode({ data: Buffer.from(value) }));
          },
        ],
      ]),
      () => {},
    );
    server.accept(s.socket, s.head);
  }
  const g = await dialUpgrade(socketPath, '/v1.47/grpc');
  const client = new GrpcClient(g.socket, g.head);
  const unary = (path: string, msg: Buffer, metadata: Record<string, string> = {}) => client.unary(path, msg, metadata);
  const status: StatusResponse[] = [];
  const statusDone = (async () => {
    const call = client.call('/moby.buildkit.v1.Control/Status');
    await call.send(messages.StatusRequest.encode({ Ref: ref }));
    call.closeSend();
    for await (const m of call.messages()) status.push(messages.StatusResponse.decode(m));
  })();
  const attrs = req.attrs ?? {};
  const exporter = req.exporter ?? 'moby';
  const solve = unary(
    '/moby.buildkit.v1.Control/Solve',
    messages.SolveRequest.encode({
      Ref: ref,
      Exporter: exporter,
      ExporterAttrs: req.name ? { name: req.name } : {},
      Session: sessionId,
      Frontend: req.direct ? 'dockerfile.v0' : '',
      FrontendAttrs: req.direct ? attrs : {},
      FrontendInputs: {},
      ...(req.entitlements ? { Entitlements: req.entitlements } : {}),
    }),
  );
  const gateway = req.direct
    ? Promise.resolve()
    : (async () => {
        const meta = { 'buildkit-controlapi-buildid': ref };
        const pong = messages.PongResponse.decode(await unary('/moby.buildkit.v1.frontend.LLBBridge/Ping', messages.PingRequest.encode({}), meta));
        if (!pong.FrontendAPICaps.some((c) => c.ID === 'return' && c.Enabled)) throw new Error('the gateway lacks the return capability');
        let result;
        let error;
        try {
          const res = messages.GatewaySolveResponse.decode(
            await unary('/moby.buildkit.v1.frontend.LLBBridge/Solve', messages.GatewaySolveRequest.encode({ Definition: Buffer.alloc(0), Frontend: 'dockerfile.v0', FrontendOpt: attrs, FrontendInputs: {}, Evaluate: false }), meta),
          );
          result = res.result;
        } catch (err) {
          if (!(err instanceof GrpcError)) throw err;
          error = { code: err.code, message: err.message };
        }
        await unary('/moby.buildkit.v1.frontend.LLBBridge/Return', messages.ReturnRequest.encode({ ...(result ? { result } : {}), ...(error ? { error } : {}) }), meta);
      })();
  const out: BuildResult = { status, output };
  // As buildx's client does, both sides are waited for: the gateway's calls must end when the solve fails.
  const [solved, gatewayDone] = await Promise.allSettled([solve, gateway]);
  if (solved.status === 'fulfilled') out.exporterResponse = messages.SolveResponse.decode(solved.value).ExporterResponse;
  else if (solved.reason instanceof GrpcError) out.error = solved.reason;
  else throw solved.reason;
  if (gatewayDone.status === 'rejected' && !(gatewayDone.reason instanceof GrpcError)) throw gatewayDone.reason;
  await statusDone.catch(() => {});
  client.close();
  sessionSocket?.destroy();
  return out;
}

/** The vertexes of a build's status by name, each as last reported. */
export function vertexesByName(status: StatusResponse[]): Map<string, { cached: boolean; error: string; completed: boolean; logs: string; statuses: string[] }> {
  const byDigest = new Map<string, { name: string; cached: boolean; error: string; completed: boolean; logs: string; statuses: string[] }>();
  for (const r of status) {
    for (const v of r.vertexes) {
      const prev = byDigest.get(v.digest);
      byDigest.set(v.digest, { name: v.name, cached: !!v.cached, error: v.error ?? '', completed: !!v.completed, logs: prev?.logs ?? '', statuses: prev?.statuses ?? [] });
    }
    for (const l of r.logs) {
      const v = byDigest.get(l.vertex);
      if (v) v.logs += l.msg.toString();
    }
    for (const s of r.statuses) byDigest.get(s.vertex)?.statuses.push(s.ID);
  }
  return new Map([...byDigest.values()].map((v) => [v.name, v]));
}
