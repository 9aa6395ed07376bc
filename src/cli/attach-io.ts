/**
 * Streams a hijacked attach connection to the terminal as Docker's hijackedIOStreamer does:
 * output demultiplexed (unless tty), stdin piped in and half-closed at EOF, raw terminal mode
 * with a tty, resize on start and on SIGWINCH. With a tty the input is watched for the detach
 * keys as Docker's CLI does: on them the CLI detaches at once (the keys never reach the daemon).
 */
import type { EngineClient, HijackedConnection } from '../client/engine-client.js';
import { StdcopyDemuxer } from '../client/stdcopy.js';
import { DEFAULT_DETACH_KEYS, DetachKeyScanner, parseDetachKeys } from '../lib/detach-keys.js';

export interface StreamOptions {
  tty: boolean;
  stdin: NodeJS.ReadStream | null;
  stdout: NodeJS.WritableStream | null;
  stderr: NodeJS.WritableStream | null;
  /** --detach-keys (Docker's default ctrl-p,ctrl-q when unset). */
  detachKeys?: string;
}

/** The --detach-keys sequence; an invalid one is the daemon's to refuse. */
function detachSequence(spec: string | undefined): Buffer {
  try {
    return parseDetachKeys(spec);
  } catch {
    return DEFAULT_DETACH_KEYS;
  }
}

/**
 * Resolves when the container's output ends, the connection closes, or (tty) the user typed the
 * detach keys: `detached()` then says so.
 */
export function streamAttach(
  conn: HijackedConnection,
  opts: StreamOptions,
): { done: Promise<void>; restore: () => void; detached: () => boolean } {
  const { socket } = conn;
  let restored = false;
  let detached = false;
  let onDetach = () => {};
  const stdin = opts.stdin;
  const rawMode = opts.tty && stdin?.isTTY === true;
  if (rawMode) stdin!.setRawMode(true);
  const scanner = opts.tty && stdin ? new DetachKeyScanner(detachSequence(opts.detachKeys)) : undefined;
  const onInput = (chunk: Buffer) => {
    if (detached) return;
    const { pass, detached: now } = scanner!.scan(chunk);
    if (pass.length) socket.write(pass);
    if (now) {
      detached = true;
      onDetach();
    }
  };
  const restore = () => {
    if (restored) return;
    restored = true;
    if (rawMode) stdin!.setRawMode(false);
    if (stdin) {
      if (scanner) stdin.off('data', onInput);
      else stdin.unpipe(socket);
      stdin.pause();
    }
  };

  if (stdin) {
    stdin.on('end', () => conn.closeWrite());
    if (scanner) stdin.on('data', onInput);
    else stdin.pipe(socket, { end: false });
  }

  const done = new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      restore();
      if (err) reject(err);
      else resolve();
    };
    onDetach = () => {
      finish();
      conn.close();
    };
    if (opts.tty) {
      socket.on('data', (chunk: Buffer) => opts.stdout?.write(chunk));
      socket.on('end', () => finish());
    } else {
      const demux = new StdcopyDemuxer(opts.stdout, opts.stderr);
      demux.on('finish', () => finish());
      demux.on('error', (err) => finish(err));
      socket.pipe(demux);
    }
    socket.on('close', () => setImmediate(() => finish()));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish();
      else finish(err);
    });
  });
  return { done, restore, detached: () => detached };
}

/** Sends the local terminal size now and whenever it changes; returns a stop function. */
export function monitorTtySize(client: EngineClient, id: string, out: NodeJS.WriteStream): () => void {
  const send = () => {
    const rows = out.rows ?? 0;
    const cols = out.columns ?? 0;
    if (rows === 0 && cols === 0) return;
    client.containerResize(id, rows, cols).catch(() => undefined);
  };
  send();
  process.on('SIGWINCH', send);
  return () => process.off('SIGWINCH', send);
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** --sig-proxy: signals the CLI receives are sent to the container. Returns a stop function. */
export function forwardSignals(client: EngineClient, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const h = () => {
      client.containerKill(id, sig).catch(() => undefined);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
