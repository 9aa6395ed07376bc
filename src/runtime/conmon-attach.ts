/**
 * A client of conmon's attach socket (SOCK_SEQPACKET): packets read are [2|3][data] for the
 * container's stdout/stderr, packets written go to its stdin.
 *
 * Output is flow-controlled: `pause()` stops reading the socket, the kernel's queue fills, and
 * conmon's blocking write to this client waits, which stops it reading the container's pipes, so
 * the container's own writes block, as with Docker. conmon writes to its attach clients one after
 * the other, so one client that pauses holds up the others too (Docker's unbuffered broadcaster
 * does the same).
 *
 * Packets are gathered, not relayed one by one: libuv reads every packet already queued in one
 * wake-up (see seqpacket-stream.ts), straight into a staging buffer, and they go on together,
 * consecutive packets of one stream as one chunk. Each chunk handed on costs the daemon a framed
 * write and the client a wake-up. A short packet (a line, a prompt) goes on at the end of the
 * loop turn (setImmediate), so interactive output waits for nothing. A packet of a page or more
 * (conmon relays what one read of the container's pipe gave, at most 8 KiB; programs writing in
 * bulk write 4 KiB or more at a time) means more is likely on its way: what was read then waits
 * for the next packets, up to BULK_WAIT_MS or until staging is full, so bulk output goes on in
 * chunks of up to STAGING_SLOTS packets instead of one or two per wake-up (the daemon is usually
 * woken for each packet).
 *
 * A bulk chunk is copied into a buffer the stream lends and takes back when the listener calls
 * release(chunk): fresh memory for every chunk costs the daemon more than the copy (the kernel
 * zeroes and maps each new page: page faults were a fifth of its CPU relaying 200 MB, and the
 * garbage collector's work another tenth).
 */
import { EventEmitter } from 'node:events';
import { read as fsRead, write as fsWrite } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { allocWithHeadroom, HEADROOM, headroomIn } from '../lib/headroom.js';
import type { AttachStream } from './runtime.js';
import { connectSeqpacket } from './seqpacket-stream.js';

/** conmon reads at most this much per packet from an attach client. */
const STDIN_CHUNK = 16 * 1024;
/** Input queued for the process beyond this makes writeStdin answer false (pause the client). */
const STDIN_HIGH_WATER = 64 * 1024;
const SUN_PATH_MAX = 107;
/** More than conmon's largest packet (8 KiB of output and the stream byte). */
const REST_READ_SIZE = 32 * 1024;
/**
 * conmon's largest packet: the stream byte and STDIO_BUF_SIZE (8192, the same in every conmon
 * release) bytes of output. The read buffer is exactly this size so that a full packet fills it
 * and libuv reads the next one at once (a larger buffer would end each wake-up after one packet).
 */
const PACKET_MAX = 8192 + 1;
/**
 * Room for 16 packets: libuv reads up to 32 a wake-up, and a full staging buffer is handed on at
 * once, so one stream holds at most this (128 KiB).
 */
const STAGING_SLOTS = 16;
const STAGING_SIZE = STAGING_SLOTS * PACKET_MAX;
/** Chunks at least this long go into lent buffers (smaller ones get their own, of their size). */
const LENT_CHUNK = 16 * 1024;
/** Lent buffers given back and kept for the next chunks; any more are left to the collector. */
const KEEP_LENT = 4;
/** A packet at least this long (the stream byte and a page of output) is taken for bulk output. */
const BULK_PACKET = 1 + 4096;
/** How long packets read after a bulk one wait for more before they go on anyway. */
const BULK_WAIT_MS = 1;

type StreamName = 'stdout' | 'stderr';

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
    private readonly batch: PacketBatch,
  ) {
    super();
    batch.deliver = (stream, chunk) => {
      if (!this.closed) this.emit('data', stream, chunk);
    };
    const destroyHandle = (sock as unknown as { _destroy(err: Error | null, cb: (err: Error | null) => void): void })._destroy.bind(sock);
    (sock as unknown as { _destroy(err: Error | null, cb: (err: Error | null) => void): void })._destroy = (err, cb) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ECONNRESET' && !this.closed && !this.draining) {
        // conmon closed its end with our input still unread in it: the kernel reports that, once,
        // before the packets it still holds for us. Those are read first, as after an EOF, and the
        // reset is no error of the stream.
        this.flush();
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
    // libuv ends a stream at the peer's hang-up once a read came back shorter than its buffer,
    // which every packet read is: packets conmon queued before it exited may still be there.
    sock.on('end', () => {
      this.flush();
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

  /** Hands on the packets read this loop turn. */
  private flush(): void {
    if (!this.closed) this.batch.flush();
  }

  private packet(buf: Buffer): void {
    this.flush();
    const stream = packetStream(buf, 0, buf.length);
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
    this.flush();
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

  /** The sole 'data' listener is done with `chunk`: its memory holds the next output. */
  release(chunk: Buffer): void {
    this.batch.release(chunk);
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
    this.batch.drop();
    // A read(2) or write(2) in flight still uses the descriptor: it is closed when that returns.
    this.sock.destroy();
    if (!this.readingRest) this.drained();
    if (!this.ended) {
      this.ended = true;
      this.emit('end');
    }
  }
}

/**
 * The packets of one loop turn, read by the socket straight into `staging` one after the other
 * (`nextBuffer` gives each read its place, exactly PACKET_MAX long, after the last packet) and
 * handed on to `deliver` as one chunk per run of one stream, at the end of the turn or before
 * the reads start again at the front of staging.
 */
class PacketBatch {
  deliver: (stream: StreamName, chunk: Buffer) => void = () => {};
  private readonly staging = Buffer.allocUnsafeSlow(STAGING_SIZE);
  /** Where the buffer nextBuffer gave last (the socket's next read) starts. */
  private next = 0;
  /** Packets not yet handed on: offset and length pairs in staging. */
  private readonly packets: number[] = [];
  /** A flush at the end of this loop turn is pending. */
  private immediate = false;
  /** Buffers given back by release(), and the buffer each lent chunk is in. */
  private readonly spare: Buffer[] = [];
  private readonly lent = new WeakMap<Buffer, Buffer>();
  /** The wait timer (kept and re-armed: one per stream) and whether it is armed. */
  private timer: NodeJS.Timeout | undefined;
  private waiting = false;
  private readonly flushImmediate = () => {
    this.immediate = false;
    this.flush();
  };
  private readonly flushWaited = () => {
    // A flush since the timer was armed (staging full, the stream's end) already did it.
    if (this.waiting) this.flush();
  };

  readonly nextBuffer = (): Buffer => this.staging.subarray(this.next, this.next + PACKET_MAX);

  /** A packet of `n` bytes was read into `buf`, the buffer nextBuffer gave. */
  readonly onRead = (n: number, buf: Buffer): void => {
    const at = buf.byteOffset - this.staging.byteOffset;
    this.packets.push(at, n);
    this.next = at + n;
    if (this.next + PACKET_MAX > STAGING_SIZE) {
      // The next read goes to the front: what is there is handed on first.
      this.flush();
      this.next = 0;
    } else if (n >= BULK_PACKET) {
      if (this.waiting || this.immediate) return;
      this.waiting = true;
      if (this.timer) this.timer.refresh();
      else this.timer = setTimeout(this.flushWaited, BULK_WAIT_MS).unref();
    } else if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.flushImmediate);
    }
  };

  flush(): void {
    // An armed timer is left to fire for nothing: re-arming it later is cheaper than a new one.
    this.waiting = false;
    if (!this.packets.length) return;
    // Taken first: a deliver that ends the stream (drop) or re-enters flush finds nothing left,
    // and no read lands in staging before this returns.
    const packets = this.packets.splice(0);
    const staging = this.staging;
    for (let i = 0; i < packets.length; ) {
      // The run of packets of one stream, pairs [i, j): payloads copied into one chunk.
      const stream = packetStream(staging, packets[i]!, packets[i + 1]!);
      let size = 0;
      let j = i;
      while (j < packets.length && packetStream(staging, packets[j]!, packets[j + 1]!) === stream) {
        size += packets[j + 1]! - 1;
        j += 2;
      }
      if (stream) {
        const chunk = this.chunk(size);
        for (let k = i, o = 0; k < j; k += 2) o += staging.copy(chunk, o, packets[k]! + 1, packets[k]! + packets[k + 1]!);
        this.deliver(stream, chunk);
      }
      i = j;
    }
  }

  /** A chunk for `size` bytes, with room in front for the stdcopy header the API layer puts on it (no copy there). */
  private chunk(size: number): Buffer {
    if (size < LENT_CHUNK) return allocWithHeadroom(size);
    const backing = this.spare.pop() ?? Buffer.allocUnsafeSlow(HEADROOM + STAGING_SIZE);
    const chunk = headroomIn(backing, size);
    this.lent.set(chunk, backing);
    return chunk;
  }

  release(chunk: Buffer): void {
    const backing = this.lent.get(chunk);
    if (!backing) return;
    this.lent.delete(chunk);
    if (this.spare.length < KEEP_LENT) this.spare.push(backing);
  }

  /** Forgets what was read and not handed on. */
  drop(): void {
    this.packets.length = 0;
    this.spare.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = false;
  }
}

/** The stream the packet of `n` bytes at buf[at] carries ([2|3][data]); undefined for an empty or unknown one. */
function packetStream(buf: Buffer, at: number, n: number): StreamName | undefined {
  if (n < 2) return undefined;
  return buf[at] === 3 ? 'stderr' : buf[at] === 2 ? 'stdout' : undefined;
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
    // The socket reads into the batch from the moment it connects; the stream made right after
    // takes it over (nothing is handed on before: reading starts on a later loop turn).
    const batch = new PacketBatch();
    const { socket, fd } = await connectSeqpacket(path, { buffer: batch.nextBuffer, callback: batch.onRead }).catch((err: Error) => {
      throw error(err.message);
    });
    const stream = new ConmonAttachStream(socket, fd, batch);
    return stream;
  } finally {
    await dirFd?.close();
  }
}
