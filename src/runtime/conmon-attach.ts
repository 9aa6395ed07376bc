/**
 * A client of conmon's attach socket (SOCK_SEQPACKET): packets read are [2|3][data] for the
 * container's stdout/stderr, packets written go to its stdin.
 *
 * Output is flow-controlled: `pause()` stops reading the socket, the kernel's queue fills, and
 * conmon's blocking write to this client waits, which stops it reading the container's pipes, so
 * the container's own writes block, as with Docker. conmon writes to its attach clients one after
 * the other, so one client that pauses holds up the others too (Docker's unbuffered broadcaster
 * does the same).
 */
import { EventEmitter } from 'node:events';
import { read as fsRead, write as fsWrite } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { AttachStream } from './runtime.js';
import { connectSeqpacket } from './seqpacket-stream.js';

/** conmon reads at most this much per packet from an attach client. */
const STDIN_CHUNK = 16 * 1024;
/** Input queued for the process beyond this makes writeStdin answer false (pause the client). */
const STDIN_HIGH_WATER = 64 * 1024;
const SUN_PATH_MAX = 107;
/** More than conmon's largest packet (8 KiB of output and the stream byte). */
const REST_READ_SIZE = 32 * 1024;

export class ConmonAttachStream extends EventEmitter implements AttachStream {
  private ended = false;
  private closed = false;
  /** A stdin write failed (the process's end is closed): input is dropped from then on. */
  private stdinBroken = false;
  private stdinEnd = false;
  private readonly stdinQueue: Buffer[] = [];
  private stdinQueued = 0;
  private writing = false;
  private retryDelay = 0;
  private paused = false;
  /** The socket reported EOF: the rest of the queue is being read with read(2). */
  private draining = false;
  private readingRest = false;
  private restBuf: Buffer | undefined;
  /** read(2)/write(2) calls in flight on the descriptor: closing it waits for them. */
  private inflight = 0;
  private deferredDestroy: (() => void) | undefined;

  constructor(
    private readonly sock: Socket,
    private readonly fd: number,
  ) {
    super();
    const destroyHandle = (sock as unknown as { _destroy(err: Error | null, cb: (err: Error | null) => void): void })._destroy.bind(sock);
    (sock as unknown as { _destroy(err: Error | null, cb: (err: Error | null) => void): void })._destroy = (err, cb) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ECONNRESET' && !this.closed && !this.draining) {
        // conmon closed its end with our input still unread in it: the kernel reports that, once,
        // before the packets it still holds for us. Those are read first, as after an EOF, and the
        // reset is no error of the stream.
        this.draining = true;
        this.begin();
        this.deferredDestroy = () => destroyHandle(null, cb);
        this.readRest();
        return;
      }
      const go = () => destroyHandle(err, cb);
      if (this.inflight) this.deferredDestroy = go;
      else go();
    };
    sock.on('data', (buf: Buffer) => this.packet(buf));
    // libuv ends a stream at the peer's hang-up once a read came back shorter than its buffer,
    // which every packet read is: packets conmon queued before it exited may still be there.
    sock.on('end', () => {
      this.draining = true;
      // The descriptor stays open (net's own destroy after its end waits) until the rest is read.
      this.begin();
      this.readRest();
    });
    sock.on('close', () => this.finish());
    sock.on('error', (err: Error) => {
      if (this.listenerCount('error')) this.emit('error', err);
      this.finish();
    });
  }

  private packet(buf: Buffer): void {
    if (buf.length < 2) return;
    const stream = buf[0] === 3 ? 'stderr' : buf[0] === 2 ? 'stdout' : undefined;
    if (stream) this.emit('data', stream, buf.subarray(1));
  }

  private begin(): void {
    this.inflight++;
  }

  private settle(): void {
    if (--this.inflight > 0 || !this.deferredDestroy) return;
    const destroy = this.deferredDestroy;
    this.deferredDestroy = undefined;
    destroy();
  }

  /** After the socket's EOF: reads what is left, one packet a call, while not paused. */
  private readRest(): void {
    if (!this.draining || this.readingRest || this.paused) return;
    if (this.closed) {
      this.drained();
      return;
    }
    this.readingRest = true;
    const buf = (this.restBuf ??= Buffer.allocUnsafe(REST_READ_SIZE));
    fsRead(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.readingRest = false;
      if (err || n === 0 || this.closed) {
        this.drained();
        return;
      }
      this.packet(Buffer.from(buf.subarray(0, n)));
      this.readRest();
    });
  }

  private drained(): void {
    if (!this.draining) return;
    this.draining = false;
    this.settle();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
    this.close();
  }

  /** Stops reading the container's output until resume(). */
  pause(): void {
    this.paused = true;
    this.sock.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.draining) this.readRest();
    else if (!this.sock.destroyed) this.sock.resume();
  }

  /**
   * Input for the process; false when the caller should wait for 'stdin-drain'. Written with
   * write(2) on the descriptor so that a failed write (EPIPE: the process's end is gone) drops
   * input, never the output still queued for us.
   */
  writeStdin(chunk: Buffer): boolean {
    if (this.ended || this.stdinBroken || this.stdinEnd) return true;
    for (let off = 0; off < chunk.length; off += STDIN_CHUNK) {
      const part = chunk.subarray(off, off + STDIN_CHUNK);
      this.stdinQueue.push(part);
      this.stdinQueued += part.length;
    }
    this.pumpStdin();
    return this.stdinQueued < STDIN_HIGH_WATER;
  }

  private pumpStdin(): void {
    if (this.writing) return;
    const part = this.stdinQueue[0];
    if (!part || this.closed || this.stdinBroken || this.sock.destroyed) {
      this.stdinQueue.length = 0;
      this.stdinQueued = 0;
      if (this.stdinEnd && !this.stdinBroken && !this.closed) this.sock.end();
      return;
    }
    this.writing = true;
    this.begin();
    fsWrite(this.fd, part, 0, part.length, null, (err) => {
      this.writing = false;
      this.settle();
      if (err && (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') && !this.closed) {
        // conmon is not reading our input (the process does not read its stdin): try again later.
        this.retryDelay = Math.min(Math.max(1, this.retryDelay * 2), 50);
        setTimeout(() => this.pumpStdin(), this.retryDelay);
        return;
      }
      this.retryDelay = 0;
      if (err) this.stdinBroken = true;
      else {
        this.stdinQueue.shift();
        this.stdinQueued -= part.length;
        if (this.stdinQueued < STDIN_HIGH_WATER) this.emit('stdin-drain');
      }
      this.pumpStdin();
    });
  }

  /** Half-closes the container's stdin once the queued input is written. */
  closeStdin(): void {
    if (this.ended || this.stdinEnd) return;
    this.stdinEnd = true;
    this.pumpStdin();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A read(2) or write(2) in flight still uses the descriptor: it is closed when that returns.
    this.sock.destroy();
    if (!this.readingRest) this.drained();
    if (!this.ended) {
      this.ended = true;
      this.emit('end');
    }
  }
}

/** Connects to conmon's attach socket in `dir` (through /proc/self/fd when the path is too long for sun_path). */
export async function connectAttachSocket(dir: string, error: (msg: string) => Error): Promise<ConmonAttachStream> {
  let path = join(dir, 'attach');
  let dirFd: Awaited<ReturnType<typeof open>> | undefined;
  if (path.length > SUN_PATH_MAX) {
    dirFd = await open(dir, 'r');
    path = `/proc/self/fd/${dirFd.fd}/attach`;
  }
  try {
    const { socket, fd } = await connectSeqpacket(path).catch((err: Error) => {
      throw error(err.message);
    });
    return new ConmonAttachStream(socket, fd);
  } finally {
    await dirFd?.close();
  }
}
