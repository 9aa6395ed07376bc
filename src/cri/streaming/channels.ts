/**
 * The channels of one exec or attach session (`channel.k8s.io` stream protocols), whatever the
 * transport: stdin, stdout, stderr, the error channel (a metav1.Status in JSON from v4 on, plain
 * text before) and the resize channel (JSON terminal sizes, v3 on, with a tty).
 * spdyCommandChannels gathers them as the SPDY streams the client opens.
 */
import type { Readable, Writable } from 'node:stream';
import type { SpdySession, SpdyStream } from './spdy-session.js';

export interface CommandOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface CommandChannels {
  /** The negotiated protocol, e.g. `v4.channel.k8s.io`. */
  protocol: string;
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
  error: Writable;
  resize: Readable | null;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Ends the output channels and, once the client has read them (or after a grace period), the connection. */
  finish(): void;
}

/** The SPDY stream protocols, best first. */
export const SPDY_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export function statusIsJson(protocol: string): boolean {
  return protocol.startsWith('v4.') || protocol.startsWith('v5.');
}

export function hasResize(protocol: string): boolean {
  return /^v[345]\./.test(protocol);
}

/** How long a client may take to open its streams (kubelet's DefaultStreamCreationTimeout). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;
/** How long a finished session waits for the client to hang up before closing it. */
const FINISH_GRACE_MS = 10_000;

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/** Waits for the streams the request implies; refuses any other. */
export function spdyCommandChannels(
  session: SpdySession,
  protocol: string,
  opts: CommandOptions,
  timeoutMs = STREAM_CREATION_TIMEOUT_MS,
): Promise<CommandChannels> {
  const expected = new Set<StreamType>(['error']);
  if (opts.stdin) expected.add('stdin');
  if (opts.stdout) expected.add('stdout');
  if (opts.stderr && !opts.tty) expected.add('stderr');
  if (opts.tty && hasResize(protocol)) expected.add('resize');
  const got = new Map<StreamType, SpdyStream>();
  const abort = new AbortController();
  session.once('close', () => abort.abort());

  return new Promise<CommandChannels>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      session.end();
      reject(new Error('timed out waiting for client to create streams'));
    }, timeoutMs);
    timer.unref();
    session.once('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error('the client went away before opening its streams'));
    });
    session.on('stream', (s: SpdyStream) => {
      const type = s.header('streamtype') as StreamType | undefined;
      if (settled || !type || !expected.has(type) || got.has(type)) {
        s.refuse();
        return;
      }
      s.accept();
      got.set(type, s);
      if (got.size < expected.size) return;
      settled = true;
      clearTimeout(timer);
      const outputs = (['stdout', 'stderr', 'error'] as const).map((t) => got.get(t)).filter((x): x is SpdyStream => !!x);
      for (const o of outputs) o.on('data', () => {}); // drain whatever a client sends on an output stream
      resolve({
        protocol,
        stdin: got.get('stdin') ?? null,
        stdout: got.get('stdout') ?? null,
        stderr: got.get('stderr') ?? null,
        error: got.get('error')!,
        resize: got.get('resize') ?? null,
        signal: abort.signal,
        finish: () => {
          let left = outputs.length;
          const done = () => {
            if (--left > 0) return;
            // The client hangs up once it has read every output to its end; do not cut it short.
            const t = setTimeout(() => session.end(), FINISH_GRACE_MS);
            t.unref();
            session.once('close', () => clearTimeout(t));
          };
          for (const o of outputs) {
            let counted = false;
            const once = () => {
              if (counted) return;
              counted = true;
              done();
            };
            o.once('finish', once);
            o.once('close', once);
            o.end();
          }
        },
      });
    });
  });
}
