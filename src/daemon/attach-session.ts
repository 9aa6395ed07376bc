/**
 * Joins one client's attach streams (AttachIO) to a container's stdio as the runtime relays it.
 */
import type { AttachIO } from '../api/backend.js';
import type { AttachStream } from '../runtime/runtime.js';
import { DEFAULT_DETACH_KEYS, DetachKeyScanner, parseDetachKeys } from '../lib/detach-keys.js';

export { DEFAULT_DETACH_KEYS, parseDetachKeys };

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
/** How a piping ended: the container's output ended, the client went away, or it detached. */
export type PipeEnd = 'output-ended' | 'client-gone' | 'detached';

export function pipeAttach(stream: AttachStream, io: AttachIO, opts: PipeOptions): Promise<PipeEnd> {
  return new Promise<PipeEnd>((resolve) => {
    let done = false;
    const finish = (how: PipeEnd) => {
      if (done) return;
      done = true;
      stream.close();
      io.stdin?.removeListener('data', onStdin);
      io.stdin?.removeListener('end', onStdinEnd);
      io.stdout.removeListener('close', onClientGone);
      io.stdout.removeListener('error', onClientGone);
      resolve(how);
    };
    const onClientGone = () => finish('client-gone');
    stream.on('data', (which, chunk) => {
      if (which === 'stdout' && opts.wantStdout) io.stdout.write(chunk);
      else if (which === 'stderr' && opts.wantStderr) (opts.tty ? io.stdout : io.stderr).write(chunk);
    });
    stream.on('end', () => finish('output-ended'));
    stream.on('error', () => finish('output-ended'));
    io.stdout.once('close', onClientGone);
    io.stdout.once('error', onClientGone);

    const scanner = new DetachKeyScanner(opts.detachKeys);
    const onStdin = (chunk: Buffer) => {
      if (!opts.tty) {
        stream.writeStdin(chunk);
        return;
      }
      const { pass, detached } = scanner.scan(chunk);
      if (pass.length) stream.writeStdin(pass);
      if (detached) finish('detached');
    };
    const onStdinEnd = () => {
      // As Docker: a terminal's input is never closed by a client's EOF (it detached or went away).
      if (opts.stdinOnce && !opts.tty) stream.closeStdin();
      if (!opts.wantStdout && !opts.wantStderr) finish('client-gone');
    };
    if (io.stdin) {
      io.stdin.on('data', onStdin);
      io.stdin.once('end', onStdinEnd);
    }
  });
}
