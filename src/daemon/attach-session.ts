/**
 * Joins one client's attach streams (AttachIO) to a container's stdio as the runtime relays it.
 */
import type { AttachIO } from '../api/backend.js';
import type { AttachStream } from '../runtime/runtime.js';
import { invalidParameter } from '../lib/errors.js';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** Parses `ctrl-p,ctrl-q` / `a,ctrl-@` style detach keys as Docker does. */
export function parseDetachKeys(spec: string | undefined): Buffer {
  if (!spec) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z@\[\\\]^_]$/i.test(k)) {
      const c = k.slice(5).toLowerCase();
      out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : '@[\\]^_'.indexOf(c));
    } else throw invalidParameter(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(out);
}

export interface PipeOptions {
  tty: boolean;
  /** Close the container's stdin when this client's stdin ends (Config.StdinOnce). */
  stdinOnce: boolean;
  detachKeys: Buffer;
  wantStdout: boolean;
  wantStderr: boolean;
}

/**
 * Pipes until the container's output ends, the client goes away, or (with a TTY and stdin) the
 * client types the detach keys. Resolves in every case; never closes the container.
 */
export function pipeAttach(stream: AttachStream, io: AttachIO, opts: PipeOptions): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stream.close();
      io.stdin?.removeListener('data', onStdin);
      io.stdin?.removeListener('end', onStdinEnd);
      resolve();
    };
    stream.on('data', (which, chunk) => {
      if (which === 'stdout' && opts.wantStdout) io.stdout.write(chunk);
      else if (which === 'stderr' && opts.wantStderr) (opts.tty ? io.stdout : io.stderr).write(chunk);
    });
    stream.on('end', finish);
    stream.on('error', finish);
    io.stdout.once('close', finish);
    io.stdout.once('error', finish);

    const keys = opts.detachKeys;
    let matched = 0;
    const onStdin = (chunk: Buffer) => {
      if (!opts.tty || keys.length === 0) {
        stream.writeStdin(chunk);
        return;
      }
      // Hold back a possible detach sequence until it completes or breaks.
      const out: number[] = [];
      for (const b of chunk) {
        if (b === keys[matched]) {
          matched++;
          if (matched === keys.length) {
            if (out.length) stream.writeStdin(Buffer.from(out));
            finish();
            return;
          }
          continue;
        }
        if (matched) out.push(...keys.subarray(0, matched));
        matched = b === keys[0] ? 1 : 0;
        if (!matched) out.push(b);
      }
      if (out.length) stream.writeStdin(Buffer.from(out));
    };
    const onStdinEnd = () => {
      if (opts.stdinOnce) stream.closeStdin();
      if (!opts.wantStdout && !opts.wantStderr) finish();
    };
    if (io.stdin) {
      io.stdin.on('data', onStdin);
      io.stdin.once('end', onStdinEnd);
    }
  });
}
