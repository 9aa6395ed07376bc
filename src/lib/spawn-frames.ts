/**
 * The frames between wharfd (spawner.ts) and its spawn helper (src/native/wharf-spawn.c), on the
 * helper's stdin and stdout. A frame is a u32 length and that many bytes: a u32 request id, a
 * one-letter kind and the kind's fields. Integers are little-endian u32; a string is a u32
 * length and its bytes (no NUL inside: the helper refuses one).
 *
 * Requests:
 * - 'r' run to completion: file, cwd ('' for none), a network namespace's path to run it in ('' for
 *   the helper's own), argc, argv (argv[0] is the file), then the bytes for its stdin;
 * - 'd' start detached: file, cwd, argc, argv, envc, env ("K=V"), then one letter per pipe from
 *   fd 2 on ('r': the daemon reads what the process writes; 'w': the daemon writes);
 * - 's' one system call, made by a forked copy of the helper: 'm' mount (cwd, source, target,
 *   fstype, data, flags), 'u' umount2 (target, flags), 'n' a new network namespace bound onto
 *   a file (target), 'w' a write into a file (a sysctl) inside a network namespace (netns,
 *   target, data), 'v' a container's veth pair over rtnetlink (VethRequest, mtu as a u32) or 'k'
 *   a link's deletion (target); answered as 'x' with the errno as exit status and its text as
 *   stderr;
 * - 'c' release: a count and that many of the helper's fds (the ends of a 'd' the daemon now
 *   holds itself).
 *
 * Replies:
 * - 'x' exited: the exit status (0xffffffff when killed by a signal), the signal, stdout, stderr;
 * - 'e' could not start: an errno;
 * - 'p' started detached: the pid, a count and the helper's fds of the pipes' other ends, which
 *   the daemon opens again through /proc/<helper>/fd and then releases.
 */
export type PipeUse = 'read' | 'write';

export interface RunRequest {
  file: string;
  args: string[];
  cwd?: string;
  /** The path of a network namespace (a bound file or /proc/<pid>/ns/net) to run the tool in. */
  netns?: string;
  input?: string | Buffer;
}

export interface DetachedRequest {
  file: string;
  args: string[];
  cwd?: string;
  env: Record<string, string>;
  /** What the daemon does with each pipe, from the process's fd 2 on. */
  pipes: PipeUse[];
}

export type SyscallRequest =
  | { op: 'mount'; cwd?: string; source: string; target: string; fstype: string; data: string; flags: number }
  | { op: 'umount'; target: string; flags: number }
  | { op: 'netns'; target: string }
  | { op: 'write'; netns: string; target: string; data: string }
  | ({ op: 'veth' } & VethRequest)
  | { op: 'linkdel'; target: string };

/** A container's veth pair, made over rtnetlink (src/native/netlink-links.h says what each field is). */
export interface VethRequest {
  netns: string;
  ifname: string;
  peer: string;
  mac: string;
  mtu: number;
  bridge: string;
  addr4: string;
  /** '' for none: IPv6 stays disabled on the interface. */
  addr6: string;
  gw4: string;
  gw6: string;
}

export type HelperReply =
  | { id: number; kind: 'exited'; code: number | null; signal: number; stdout: Buffer; stderr: Buffer }
  | { id: number; kind: 'failed'; errno: number }
  | { id: number; kind: 'started'; pid: number; fds: number[] };

const KILLED = 0xffffffff;

class FrameWriter {
  private readonly parts: Buffer[] = [];

  u32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(n);
    this.parts.push(b);
    return this;
  }

  bytes(b: string | Buffer): this {
    const buf = typeof b === 'string' ? Buffer.from(b) : b;
    this.u32(buf.length);
    this.parts.push(buf);
    return this;
  }

  raw(s: string): this {
    this.parts.push(Buffer.from(s, 'latin1'));
    return this;
  }

  strings(list: string[]): this {
    this.u32(list.length);
    for (const s of list) this.bytes(s);
    return this;
  }

  frame(): Buffer {
    const body = Buffer.concat(this.parts);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(body.length);
    return Buffer.concat([len, body]);
  }
}

export function encodeRun(id: number, r: RunRequest): Buffer {
  return new FrameWriter()
    .u32(id)
    .raw('r')
    .bytes(r.file)
    .bytes(r.cwd ?? '')
    .bytes(r.netns ?? '')
    .strings([r.file, ...r.args])
    .bytes(r.input ?? '')
    .frame();
}

export function encodeDetached(id: number, d: DetachedRequest): Buffer {
  return new FrameWriter()
    .u32(id)
    .raw('d')
    .bytes(d.file)
    .bytes(d.cwd ?? '')
    .strings([d.file, ...d.args])
    .strings(Object.entries(d.env).map(([k, v]) => `${k}=${v}`))
    .u32(d.pipes.length)
    .raw(d.pipes.map((p) => (p === 'read' ? 'r' : 'w')).join(''))
    .frame();
}

export function encodeSyscall(id: number, q: SyscallRequest): Buffer {
  const w = new FrameWriter().u32(id).raw('s');
  if (q.op === 'mount') return w.raw('m').bytes(q.cwd ?? '').bytes(q.source).bytes(q.target).bytes(q.fstype).bytes(q.data).u32(q.flags).frame();
  if (q.op === 'umount') return w.raw('u').bytes(q.target).u32(q.flags).frame();
  if (q.op === 'netns') return w.raw('n').bytes(q.target).frame();
  if (q.op === 'veth') return w.raw('v').bytes(q.netns).bytes(q.ifname).bytes(q.peer).bytes(q.mac).u32(q.mtu).bytes(q.bridge).bytes(q.addr4).bytes(q.addr6).bytes(q.gw4).bytes(q.gw6).frame();
  if (q.op === 'linkdel') return w.raw('k').bytes(q.target).frame();
  return w.raw('w').bytes(q.netns).bytes(q.target).bytes(q.data).frame();
}

export function encodeRelease(fds: number[]): Buffer {
  const w = new FrameWriter().u32(0).raw('c').u32(fds.length);
  for (const fd of fds) w.u32(fd);
  return w.frame();
}

/** Cuts the helper's stdout into replies; a chunk may hold parts of several. */
export class ReplyReader {
  private pending: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): HelperReply[] {
    this.pending.push(chunk);
    this.size += chunk.length;
    const out: HelperReply[] = [];
    let buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.size);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off - 4 < len) break;
      out.push(decodeReply(buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    buf = buf.subarray(off);
    this.pending = buf.length ? [buf] : [];
    this.size = buf.length;
    return out;
  }
}

function decodeReply(b: Buffer): HelperReply {
  let off = 0;
  const u32 = () => {
    const v = b.readUInt32LE(off);
    off += 4;
    return v;
  };
  const bytes = () => {
    const n = u32();
    // A copy: the frame's buffer is the helper's whole chunk, kept alive by any view into it.
    const v = Buffer.from(b.subarray(off, off + n));
    off += n;
    return v;
  };
  const id = u32();
  const kind = String.fromCharCode(b[off++]!);
  if (kind === 'x') {
    const status = u32();
    const signal = u32();
    return { id, kind: 'exited', code: status === KILLED ? null : status, signal, stdout: bytes(), stderr: bytes() };
  }
  if (kind === 'e') return { id, kind: 'failed', errno: u32() };
  if (kind === 'p') {
    const pid = u32();
    const fds = Array.from({ length: u32() }, u32);
    return { id, kind: 'started', pid, fds };
  }
  throw new Error(`the spawn helper sent a reply of unknown kind ${JSON.stringify(kind)}`);
}
