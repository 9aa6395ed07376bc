/**
 * Runs one exec or attach session over its channels, as kubelet's remotecommand server does:
 * the process's stdio on the stdio channels, terminal sizes from the resize channel, and at the
 * end the outcome on the error channel (a metav1.Status from v4 on: Success, or Failure with
 * reason NonZeroExitCode and the exit code as an ExitCode cause; plain text before v4).
 */
import type { Readable } from 'node:stream';
import { statusIsJson, type CommandChannels } from './channels.js';
import type { SessionStreams, StreamingRuntime, TerminalSize } from './types.js';

export type CommandRequest =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean };

/** A metav1.Status as encoding/json writes it (TypeMeta omitted, as kubelet's writer does). */
interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: Array<{ reason?: string; message: string }> };
  code?: number;
}

export function successStatus(): Status {
  return { metadata: {}, status: 'Success' };
}

export function exitCodeStatus(cmd: string[], code: number): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function internalErrorStatus(message: string): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

function writeStatus(ch: CommandChannels, st: Status): void {
  if (statusIsJson(ch.protocol)) ch.error.write(JSON.stringify(st));
  else if (st.status !== 'Success') ch.error.write(st.message ?? 'error');
}

export async function runCommand(runtime: StreamingRuntime, req: CommandRequest, ch: CommandChannels, log: (msg: string) => void): Promise<void> {
  const resize = ch.resize ? resizeEvents(ch.resize, ch.signal) : null;
  const first: { size?: TerminalSize; rest: AsyncIterable<TerminalSize> | null } = resize && req.tty ? await firstSize(resize) : { rest: resize };
  const streams: SessionStreams = {
    stdin: ch.stdin,
    stdout: ch.stdout,
    stderr: req.tty ? null : ch.stderr,
    tty: req.tty,
    resize: first.rest,
    ...(first.size ? { initialSize: first.size } : {}),
    signal: ch.signal,
  };
  let status: Status;
  try {
    if (req.kind === 'exec') {
      const code = await runtime.exec(req.containerId, req.cmd, streams);
      status = code === 0 ? successStatus() : exitCodeStatus(req.cmd, code);
    } else {
      await runtime.attach(req.containerId, streams);
      status = successStatus();
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!ch.signal.aborted) log(`cri streaming ${req.kind} ${req.containerId}: ${message}`);
    status = internalErrorStatus(message);
  }
  ch.resize?.destroy();
  if (!ch.signal.aborted) writeStatus(ch, status);
  ch.finish();
}

/** How long a tty session waits for the client's first terminal size (clients send it at once). */
const FIRST_SIZE_WAIT_MS = 1_000;

/**
 * The first size, if it comes within FIRST_SIZE_WAIT_MS, so the process starts with the right
 * terminal size instead of racing the first resize; and the sizes after it.
 */
async function firstSize(sizes: AsyncIterable<TerminalSize>): Promise<{ size?: TerminalSize; rest: AsyncIterable<TerminalSize> }> {
  const it = sizes[Symbol.asyncIterator]();
  const next = it.next();
  let timer: NodeJS.Timeout | undefined;
  const got = await Promise.race([next, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), FIRST_SIZE_WAIT_MS)))]);
  clearTimeout(timer);
  const rest: AsyncIterable<TerminalSize> = {
    async *[Symbol.asyncIterator]() {
      if (!got) {
        const late = await next;
        if (late.done) return;
        yield late.value;
      }
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    },
  };
  return got && !got.done ? { size: got.value, rest } : { rest };
}

/** Longest resize message we hold while waiting for its end. */
const MAX_RESIZE_BUFFER = 4096;

/**
 * The terminal sizes a client sends: JSON objects `{"Width":w,"Height":h}` one after another
 * (Go's json.Encoder puts a newline after each). Only the newest pending size is kept.
 */
export function resizeEvents(input: Readable, signal: AbortSignal): AsyncIterable<TerminalSize> {
  let pending: TerminalSize | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  let buf = '';
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const end = () => {
    ended = true;
    notify();
  };
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('}'); i >= 0; i = buf.indexOf('}')) {
      const size = parseSize(buf.slice(0, i + 1));
      buf = buf.slice(i + 1);
      if (size) {
        pending = size;
        notify();
      }
    }
    if (buf.length > MAX_RESIZE_BUFFER) {
      buf = '';
      input.destroy();
    }
  });
  input.once('end', end);
  input.once('close', end);
  signal.addEventListener('abort', end, { once: true });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (pending) {
          const s = pending;
          pending = undefined;
          yield s;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

function parseSize(text: string): TerminalSize | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const { Width: width, Height: height } = v as { Width?: unknown; Height?: unknown };
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  return ok(width) && ok(height) ? { width, height } : undefined;
}
