/**
 * conmon's I/O endpoints, shared by the container runtime (conmon.ts) and exec sessions
 * (conmon-exec.ts): the attach socket (a SOCK_SEQPACKET stream of stdio frames), the ctl fifo
 * for terminal sizes, and runc's error text from its log lines.
 */
import { EventEmitter } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { SeqpacketSocket } from 'node-unix-socket';
import { systemError } from '../lib/errors.js';
import type { AttachStream } from './runtime.js';

/** conmon reads at most this much per packet from an attach client. */
const STDIN_CHUNK = 16 * 1024;
const SUN_PATH_MAX = 107;

/** conmon's view of the container's stdio over its attach socket. */
export class ConmonAttachStream extends EventEmitter implements AttachStream {
  private ended = false;
  /** A stdin write failed (the process's end is closed): input is dropped from then on. */
  private stdinBroken = false;

  constructor(private readonly sock: SeqpacketSocket) {
    super();
    // node-unix-socket destroys the socket on any error, a failed write included. A stdin write
    // that fails because the process has ended (EPIPE) must not: output conmon still has for us
    // would be lost. The socket then ends as usual, after the last output.
    sock.removeAllListeners('_error');
    sock.on('_error', (err: Error) => {
      if (isBrokenPipe(err)) {
        this.stdinBroken = true;
        return;
      }
      process.nextTick(() => {
        sock.emit('error', err);
        sock.destroy();
      });
    });
    sock.on('data', (buf: Buffer) => {
      if (buf.length < 1) return;
      const stream = buf[0] === 3 ? 'stderr' : buf[0] === 2 ? 'stdout' : undefined;
      if (stream && buf.length > 1) this.emit('data', stream, buf.subarray(1));
    });
    sock.on('end', () => this.finish());
    sock.on('close', () => this.finish());
    sock.on('error', (err: Error) => {
      if (this.listenerCount('error')) this.emit('error', err);
      this.finish();
    });
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
  }

  /** Input for the process. A failed write drops input, never output: the stream goes on to its end. */
  writeStdin(chunk: Buffer): void {
    if (this.ended || this.stdinBroken) return;
    try {
      for (let off = 0; off < chunk.length; off += STDIN_CHUNK) {
        const part = chunk.subarray(off, off + STDIN_CHUNK);
        this.sock.write(part, 0, part.length);
      }
    } catch {
      this.stdinBroken = true;
    }
  }

  closeStdin(): void {
    if (this.ended) return;
    try {
      this.sock.end();
    } catch {
      /* already closed */
    }
  }

  close(): void {
    try {
      this.sock.destroy();
    } catch {
      /* already closed */
    }
    this.finish();
  }
}

function isBrokenPipe(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || /EPIPE|broken pipe|os error 32\b/i.test(err.message);
}

/** runc prints logrus lines (`time=... level=error msg="..."`); the last msg is the error. */
export function runtimeErrorMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  for (const line of [...lines].reverse()) {
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line) as { msg?: string; level?: string };
        if (j.msg) return j.msg;
      } catch {
        /* not JSON */
      }
    }
    const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
    if (msg !== undefined) {
      try {
        return JSON.parse(`"${msg}"`) as string;
      } catch {
        return msg;
      }
    }
  }
  return lines.join('\n').trim();
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
    const sock = new SeqpacketSocket();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(error(err.message));
      sock.once('error', onError);
      try {
        sock.connect(path, () => {
          sock.off('error', onError);
          resolve();
        });
      } catch (err) {
        reject(error((err as Error).message));
      }
    });
    return new ConmonAttachStream(sock);
  } finally {
    await dirFd?.close();
  }
}

/** Sets the terminal size through conmon's ctl fifo in `dir`; `message('gone')` when conmon is not there. */
export async function writeTerminalSize(dir: string, height: number, width: number, message: (msg: string) => string): Promise<void> {
  let fh;
  try {
    // Non-blocking: fails with ENXIO instead of hanging when conmon is gone.
    fh = await open(join(dir, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw systemError(message(code === 'ENOENT' || code === 'ENXIO' ? 'gone' : (err as Error).message));
  }
  try {
    await fh.write(`1 ${Math.max(0, Math.floor(height))} ${Math.max(0, Math.floor(width))}\n`);
  } finally {
    await fh.close();
  }
}
