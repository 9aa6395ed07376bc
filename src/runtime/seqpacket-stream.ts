/**
 * A SOCK_SEQPACKET client socket as a Node stream that can be paused.
 *
 * Node cannot create SOCK_SEQPACKET sockets; node-unix-socket can, but its reader drains the
 * socket as fast as packets come and has no pause, so a slow consumer would make the daemon
 * hold everything conmon sends. Here node-unix-socket only creates the socket (its handle is
 * never started, so it never polls or touches the descriptor again); the descriptor is then
 * opened as a libuv pipe handle, which connects it and reads it with flow control: when the
 * consumer pauses, the kernel's queue fills and the peer's blocking write waits. A read on a
 * SEQPACKET socket returns one whole packet; packets go to the caller's `onread` callback (Node's
 * `onread` socket option, no 'data' events), read into the caller's buffer. libuv reads again in
 * the same wake-up (up to 32 times) only while a read fills the whole buffer, so a buffer of
 * exactly the peer's largest packet reads what is queued in one go instead of one packet per
 * wake-up; a packet larger than the buffer would be cut, so it must be at least that size.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { createRequire } from 'node:module';

interface PipeHandle {
  open(fd: number): number;
}
interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

const require = createRequire(import.meta.url);
let pipeBinding: PipeBinding | undefined;
let wrapClass: (new (ee: object, fd?: number) => object) | undefined;

function bindings(): { Pipe: PipeBinding; Wrap: new (ee: object, fd?: number) => object } {
  // process.binding('pipe_wrap') is the handle net.Socket itself uses for unix sockets.
  pipeBinding ??= (process as unknown as { binding(name: string): PipeBinding }).binding('pipe_wrap');
  wrapClass ??= (require('node-unix-socket/js/addon') as { SeqpacketSocketWrap: new (ee: object, fd?: number) => object }).SeqpacketSocketWrap;
  return { Pipe: pipeBinding, Wrap: wrapClass };
}

/** socket inodes by descriptor, from /proc/self/fd. */
function socketDescriptors(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${name}`);
      if (target.startsWith('socket:[')) out.set(Number(name), target.slice(8, -1));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Inodes of the host's unix SOCK_SEQPACKET sockets (type 0005 in /proc/net/unix). */
function seqpacketInodes(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[4] === '0005' && f[6]) out.add(f[6]);
  }
  return out;
}

/**
 * A new, unconnected SOCK_SEQPACKET socket's descriptor. The socket is made synchronously on
 * this thread; a descriptor another thread opens meanwhile is told apart by the socket's type.
 */
function newSeqpacketDescriptor(): number {
  const { Wrap } = bindings();
  const before = socketDescriptors();
  // Only the constructor runs (socket(), O_NONBLOCK, FD_CLOEXEC, an idle poll handle): the wrap
  // is never connected, polled or closed, so the descriptor is ours alone.
  new Wrap({ emit: () => false });
  const fresh = [...socketDescriptors()].filter(([fd, inode]) => before.get(fd) !== inode);
  if (fresh.length === 1) return fresh[0]![0];
  const seq = seqpacketInodes();
  const ours = fresh.filter(([, inode]) => seq.has(inode));
  if (ours.length !== 1) throw new Error('cannot find the new seqpacket socket');
  return ours[0]![0];
}

/** Where packets are read: into what `buffer()` gives (asked again after each packet), then `callback(length, thatBuffer)`. */
export interface PacketReader {
  buffer: () => Buffer;
  callback: (length: number, buffer: Buffer) => void;
}

/** Connects a SOCK_SEQPACKET socket to `path`; resolves with the stream and its descriptor. */
export async function connectSeqpacket(path: string, onread: PacketReader): Promise<{ socket: Socket; fd: number }> {
  const { Pipe } = bindings();
  const fd = newSeqpacketDescriptor();
  const handle = new Pipe.Pipe(Pipe.constants.SOCKET);
  const err = handle.open(fd);
  if (err) throw new Error(`cannot open seqpacket socket: error ${err}`);
  // @types/node knows only a fixed buffer for onread; Node also takes a function (net.md, socket.connect()).
  const socket = new Socket({ handle, readable: true, writable: true, onread: onread as unknown as { buffer: Buffer; callback: PacketReader['callback'] } } as ConstructorParameters<typeof Socket>[0]);
  // One write is one packet: never let the stream join queued writes into one writev.
  (socket as unknown as { _writev: unknown })._writev = null;
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.once('error', onError);
    socket.connect(path, () => {
      socket.off('error', onError);
      resolve({ socket, fd });
    });
  });
}
