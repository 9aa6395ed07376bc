/**
 * Joins one client's attach streams (AttachIO) to a container's stdio as the runtime relays it.
 */
import type { Writable } from 'node:stream';
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
    // Back-pressure: a client that does not keep up pauses the container's output (conmon then
    // blocks the container's writes) instead of the daemon holding it.
    const waiting = new Set<Writable>();
    const onDrain = (w: Writable) => () => {
      waiting.delete(w);
      if (!waiting.size && !done) stream.resume();
    };
    // A chunk is given back once the writer is done with it (stdcopy.ts's writers call back only
    // when the connection has it), so that its memory carries the next output.
    const send = (w: Writable, chunk: Buffer) => {
      if (w.write(chunk, () => stream.release(chunk)) || waiting.has(w)) return;
      waiting.add(w);
      stream.pause();
      w.once('drain', onDrain(w));
    };
    stream.on('data', (which, chunk) => {
      if (which === 'stdout' && opts.wantStdout) send(io.stdout, chunk);
      else if (which === 'stderr' && opts.wantStderr) send(opts.tty ? io.stdout : io.stderr, chunk);
      else stream.release(chunk);
    });
    stream.on('end', () => finish('output-ended'));
    stream.on('error', () => finish('output-ended'));
    io.stdout.once('close', onClientGone);
    io.stdout.once('error', onClientGone);

    const scanner = new DetachKeyScanner(opts.detachKeys);
    // Input the process does not read pauses the client's stdin in turn.
    const toStdin = (chunk: Buffer) => {
      if (stream.writeStdin(chunk) || !io.stdin) return;
      io.stdin.pause();
      stream.once('stdin-drain', () => io.stdin?.resume());
    };
    const onStdin = (chunk: Buffer) => {
      if (!opts.tty) {
        toStdin(chunk);
        return;
      }
      const { pass, detached } = scanner.scan(chunk);
      if (pass.length) toStdin(pass);
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

/** Writes `chunk` and waits until `w` wants more (or is gone), so a slow client holds nothing up in memory. */
export function writeWithRoom(w: Writable, chunk: Buffer): Promise<void> {
  if (w.write(chunk) || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}
