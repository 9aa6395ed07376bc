/**
 * Reads a container log in the CRI format conmon writes (`<RFC3339Nano> stdout|stderr F|P <text>`,
 * one record a line; P = the line goes on in the next record, F = the line ended there) and
 * serves it as `docker logs` wants: tail (read backwards, so big logs cost little), since/until,
 * stream selection, and follow (fs.watch plus reading on from the last offset) until the
 * container stops or the reader is closed.
 */
import { createReadStream, watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { basename, dirname } from 'node:path';
import type { LogEntry, LogsOptions, LogsResult } from '../api/backend.js';
import { formatRFC3339Nano, parseRFC3339Seconds } from './state.js';

const NL = 0x0a;
const SP = 0x20;
const CHUNK = 64 * 1024;
/** Safety net for a missed fs.watch event while following. */
const POLL_MS = 1000;

export interface CriRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  /** P: the line continues in the next record (no newline at its end). */
  partial: boolean;
  /** The text, without the record's newline. */
  text: Buffer;
}

export interface FollowControl {
  isRunning(): boolean;
  /**
   * Calls `cb` once when the container stops (the reader then drains what is left and ends);
   * the returned function drops the subscription (a client that goes away leaves nothing behind).
   */
  onStop(cb: () => void): (() => void) | void;
}

/** One CRI record line (without its newline); undefined when the line is not one. */
export function parseCriLine(line: Buffer): CriRecord | undefined {
  const sp1 = line.indexOf(SP);
  if (sp1 <= 0) return undefined;
  const sp2 = line.indexOf(SP, sp1 + 1);
  if (sp2 < 0) return undefined;
  const stream = line.toString('latin1', sp1 + 1, sp2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const sp3 = line.indexOf(SP, sp2 + 1);
  const tag = line.toString('latin1', sp2 + 1, sp3 < 0 ? line.length : sp3);
  const flags = tag.split(':');
  if (!flags.includes('F') && !flags.includes('P')) return undefined;
  return {
    time: line.toString('latin1', 0, sp1),
    stream,
    partial: flags.includes('P'),
    text: sp3 < 0 ? Buffer.alloc(0) : line.subarray(sp3 + 1),
  };
}

/** A CRI record line with its newline, as conmon writes it (for tests and tools). */
export function formatCriLine(time: Date | string, stream: 'stdout' | 'stderr', text: string | Buffer, partial = false): Buffer {
  const ts = typeof time === 'string' ? time : formatRFC3339Nano(time);
  return Buffer.concat([Buffer.from(`${ts} ${stream} ${partial ? 'P' : 'F'} `), Buffer.from(text), Buffer.from('\n')]);
}

/** Docker's log copier hands on a partial line once this much of it has come. */
const PARTIAL_FLUSH_BYTES = 16 * 1024;

/**
 * Lines as Docker's log copier hands them to the log: a line the process has not ended yet is
 * held (per stream) until its newline comes, 16 KiB of it have come, or the container has
 * stopped. conmon writes each piece it reads as a P record at once, so without this `docker logs`
 * and attach's log replay showed text Docker shows only later (a prompt without a newline, echoed
 * input). The times are the copier's: a line is stamped when its newline comes (its last piece's
 * time); once 16 KiB of a line went out, that part and every later part of the line carry the
 * time of that first flush.
 */
class LineAssembler {
  private readonly pending = new Map<'stdout' | 'stderr', { time: string; parts: Buffer[]; size: number }>();
  /** The time of the first 16 KiB of a line still going on (the copier's partialTS). */
  private readonly flushedAt = new Map<'stdout' | 'stderr', string>();

  /** The entry `rec` completes, if any. */
  push(rec: CriRecord): LogEntry | undefined {
    const held = this.pending.get(rec.stream);
    const flushedAt = this.flushedAt.get(rec.stream);
    if (!rec.partial) {
      this.pending.delete(rec.stream);
      this.flushedAt.delete(rec.stream);
      const parts = held ? [...held.parts, rec.text] : [rec.text];
      return { stream: rec.stream, data: Buffer.concat([...parts, Buffer.from('\n')]), time: flushedAt ?? rec.time };
    }
    const next = held ?? { time: rec.time, parts: [], size: 0 };
    next.parts.push(Buffer.from(rec.text));
    next.size += rec.text.length;
    next.time = rec.time;
    if (next.size < PARTIAL_FLUSH_BYTES) {
      this.pending.set(rec.stream, next);
      return undefined;
    }
    this.pending.delete(rec.stream);
    const time = flushedAt ?? rec.time;
    this.flushedAt.set(rec.stream, time);
    return { stream: rec.stream, data: Buffer.concat(next.parts), time };
  }

  /** What is held, once the container has stopped (its copier flushes at the end of the stream). */
  drain(): LogEntry[] {
    const out = [...this.pending].map(([stream, held]) => ({ stream, data: Buffer.concat(held.parts), time: this.flushedAt.get(stream) ?? held.time }));
    this.pending.clear();
    this.flushedAt.clear();
    return out;
  }
}

/** Complete lines from the end of the file backwards, each with its start offset; an unterminated last line is skipped. */
async function* linesBackward(fh: FileHandle, size: number): AsyncGenerator<{ start: number; line: Buffer }> {
  let pos = size;
  let rest = Buffer.alloc(0);
  let sawNewline = false;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(chunk, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let buf = rest.length > 0 ? Buffer.concat([chunk.subarray(0, got), rest]) : chunk.subarray(0, got);
    if (!sawNewline) {
      const nl = buf.lastIndexOf(NL);
      if (nl < 0) {
        rest = Buffer.alloc(0);
        continue;
      }
      buf = buf.subarray(0, nl + 1);
      sawNewline = true;
    }
    let e = buf.length - 1;
    while (e > 0) {
      const prev = buf.lastIndexOf(NL, e - 1);
      if (prev < 0) break;
      yield { start: pos + prev + 1, line: buf.subarray(prev + 1, e) };
      e = prev;
    }
    rest = buf.subarray(0, e + 1);
  }
  if (rest.length > 0) yield { start: 0, line: rest.subarray(0, rest.length - 1) };
}

/**
 * Offset where the last `n` lines start. A line is a run of P records ended by an F record
 * (or by the end of the file); all streams count, as in Docker, selection comes after.
 */
export async function tailOffset(fh: FileHandle, size: number, n: number): Promise<number> {
  let count = 0;
  let candidate: number | undefined;
  let first = true;
  for await (const { start, line } of linesBackward(fh, size)) {
    if (candidate === undefined) candidate = start + line.length + 1;
    const rec = parseCriLine(line);
    const endsLine = !rec || !rec.partial || first;
    first = false;
    if (endsLine) {
      if (count === n) return candidate;
      count++;
    }
    candidate = start;
  }
  return n === 0 && candidate !== undefined ? candidate : 0;
}

/** A rotated log file (`<log>.N`, gzip-compressed when `gz`), oldest first in the lists below. */
export interface RotatedFile {
  path: string;
  gz: boolean;
}

/** Every complete line of a rotated file from byte `from` (plain files only; 0 for gz), streamed. */
async function* fileLines(f: RotatedFile, from = 0): AsyncGenerator<Buffer> {
  const raw = createReadStream(f.path, { start: from });
  const input = f.gz ? raw.pipe(createGunzip()) : raw;
  let carry = Buffer.alloc(0);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      let s = 0;
      for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, s)) {
        yield data.subarray(s, nl);
        s = nl + 1;
      }
      carry = Buffer.from(data.subarray(s));
    }
  } finally {
    raw.destroy();
  }
}

/** Lines (P records joined to their F) that end in `lines`, as tailOffset counts them. */
function countLines(lines: Buffer[]): number {
  let n = 0;
  lines.forEach((l, i) => {
    const rec = parseCriLine(l);
    if (!rec || !rec.partial || i === lines.length - 1) n++;
  });
  return n;
}

/**
 * The records of the rotated files that `docker logs` shows before the live file: all of them,
 * or with a tail only the last `need` lines across the files (newest file first backwards).
 */
async function* rotatedLines(files: RotatedFile[], need: number | undefined): AsyncGenerator<Buffer> {
  if (need === undefined) {
    for (const f of files) yield* fileLines(f);
    return;
  }
  if (need <= 0) return;
  const picked: Array<{ f: RotatedFile; from: number; skip: number }> = [];
  for (let i = files.length - 1; i >= 0 && need > 0; i--) {
    const f = files[i]!;
    if (!f.gz) {
      const fh = await open(f.path, 'r');
      try {
        const size = (await fh.stat()).size;
        const from = await tailOffset(fh, size, need);
        const buf = Buffer.alloc(size - from);
        await fh.read(buf, 0, buf.length, from);
        const got = countLines(splitLines(buf));
        picked.unshift({ f, from, skip: 0 });
        need -= got;
      } finally {
        await fh.close();
      }
    } else {
      // A compressed file is read forward; only the count is kept, then the wanted end is streamed.
      let total = 0;
      for await (const l of fileLines(f)) if (l.length >= 0) total++;
      const skip = Math.max(0, total - need);
      picked.unshift({ f, from: 0, skip });
      need -= total - skip;
    }
  }
  for (const p of picked) {
    let k = 0;
    for await (const l of fileLines(p.f, p.from)) if (k++ >= p.skip) yield l;
  }
}

function splitLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let s = 0;
  for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, s)) {
    out.push(buf.subarray(s, nl));
    s = nl + 1;
  }
  return out;
}

/** Reads forward from an offset, keeping an unterminated last line for the next read. */
class ForwardReader {
  private fh: FileHandle | undefined;
  private ino = 0;
  private carry = Buffer.alloc(0);

  constructor(
    private readonly path: string,
    private pos: number,
  ) {}

  async open(): Promise<FileHandle | undefined> {
    if (this.fh) return this.fh;
    try {
      this.fh = await open(this.path, 'r');
      this.ino = (await this.fh.stat()).ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return this.fh;
  }

  /** Every complete line from the current offset to the end of the file. */
  async *lines(): AsyncGenerator<Buffer> {
    const fh = await this.open();
    if (!fh) return;
    const st = await fh.stat();
    if (st.size < this.pos) {
      // Truncated under us: start again from the top.
      this.pos = 0;
      this.carry = Buffer.alloc(0);
    }
    for (;;) {
      const buf = Buffer.alloc(CHUNK);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, this.pos);
      if (bytesRead === 0) break;
      this.pos += bytesRead;
      let data = buf.subarray(0, bytesRead);
      if (this.carry.length > 0) data = Buffer.concat([this.carry, data]);
      let s = 0;
      for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, s)) {
        yield data.subarray(s, nl);
        s = nl + 1;
      }
      this.carry = Buffer.from(data.subarray(s));
    }
  }

  /** The bytes after the last newline (a record still being written, or the last one of a crash). */
  takeRest(): Buffer {
    const r = this.carry;
    this.carry = Buffer.alloc(0);
    return r;
  }

  /** Whether the path now names another file (rotated); the caller drains this one first. */
  async replaced(): Promise<boolean> {
    if (!this.fh) return false;
    const st = await stat(this.path).catch(() => undefined);
    return !!st && st.ino !== this.ino;
  }

  seek(pos: number): void {
    this.pos = pos;
    this.carry = Buffer.alloc(0);
  }

  async reopen(): Promise<void> {
    await this.close();
    this.pos = 0;
    this.carry = Buffer.alloc(0);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => {});
  }
}

/**
 * The log at `path` as LogEntry records. Without follow (or for a container that is not
 * running) the iteration ends at the end of the file; with it, it goes on with what is
 * appended until the container stops (the rest is drained first), `until` passes, or close().
 */
export async function readLogs(path: string, opts: LogsOptions, follow: FollowControl, rotated: RotatedFile[] = []): Promise<LogsResult> {
  const until = opts.until;
  const following = opts.follow && follow.isRunning() && (until === undefined || until * 1000 > Date.now());
  let stopped = !following;
  let closed = false;
  let dirty = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    dirty = true;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = following
    ? follow.onStop(() => {
        stopped = true;
        signal();
      })
    : undefined;

  async function* entries(): AsyncGenerator<LogEntry> {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    let untilTimer: NodeJS.Timeout | undefined;
    const reader = new ForwardReader(path, 0);
    const lines = new LineAssembler();
    try {
      if (closed) return;
      if (following) {
        const base = basename(path);
        try {
          watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
            if (!name || name === base) signal();
          });
          watcher.on('error', () => {});
        } catch {
          // The directory may be gone; the poll below still notices appends.
        }
        poll = setInterval(signal, POLL_MS);
        poll.unref();
        if (until !== undefined) {
          untilTimer = setTimeout(() => {
            stopped = true;
            signal();
          }, until * 1000 - Date.now());
          untilTimer.unref();
        }
      }

      const fh = await reader.open();
      let start = 0;
      let liveLines = 0;
      if (fh && opts.tail !== undefined) {
        const size = (await fh.stat()).size;
        start = await tailOffset(fh, size, opts.tail);
        if (rotated.length) {
          const buf = Buffer.alloc(size - start);
          await fh.read(buf, 0, buf.length, start);
          liveLines = countLines(splitLines(buf));
        }
      }
      reader.seek(start);

      const wanted = (rec: CriRecord): boolean => (rec.stream === 'stdout' ? opts.stdout : opts.stderr);
      /**
       * 'stop' at a record after until (no line it ends or goes on with is older); 'skip' for an
       * entry before since. Since applies to whole lines: a line begun before it and ended after it
       * is the copier's line of its end, and is shown whole.
       */
      const timeCheck = (time: string): 'ok' | 'skip' | 'stop' => {
        if (opts.since === undefined && until === undefined) return 'ok';
        const t = parseRFC3339Seconds(time);
        if (Number.isNaN(t)) return 'ok';
        if (opts.since !== undefined && t < opts.since) return 'skip';
        if (until !== undefined && t > until) return 'stop';
        return 'ok';
      };
      /** The entry `rec` completes, if it is to be shown; 'stop' once past until. */
      const take = (rec: CriRecord): LogEntry | 'stop' | undefined => {
        if (!wanted(rec)) return undefined;
        if (timeCheck(rec.time) === 'stop') return 'stop';
        const entry = lines.push(rec);
        return entry && timeCheck(entry.time) === 'ok' ? entry : undefined;
      };

      if (rotated.length) {
        for await (const line of rotatedLines(rotated, opts.tail === undefined ? undefined : opts.tail - liveLines)) {
          const rec = parseCriLine(line);
          if (!rec) continue;
          const entry = take(rec);
          if (entry === 'stop') return;
          if (entry) yield entry;
          if (closed) return;
        }
      }

      for (;;) {
        const finalPass = stopped;
        dirty = false;
        for await (const line of reader.lines()) {
          const rec = parseCriLine(line);
          if (!rec) continue;
          const entry = take(rec);
          if (entry === 'stop') return;
          if (entry) yield entry;
          if (closed) return;
        }
        if (closed) return;
        if (following && (await reader.replaced())) {
          await reader.reopen();
          continue;
        }
        if (finalPass) {
          // A last record without its newline is the container's output only once its writer is
          // gone (died mid-line); while it runs, it is a record being written.
          const rest = reader.takeRest();
          if (follow.isRunning()) return;
          const rec = parseCriLine(rest);
          const entry = rec && take(rec);
          if (entry === 'stop') return;
          if (entry) yield entry;
          for (const held of lines.drain()) if (timeCheck(held.time) === 'ok') yield held;
          return;
        }
        if (!dirty && !stopped && !closed) await new Promise<void>((resolve) => (wake = resolve));
        if (closed) return;
      }
    } finally {
      unsubscribe?.();
      watcher?.close();
      if (poll) clearInterval(poll);
      if (untilTimer) clearTimeout(untilTimer);
      await reader.close();
    }
  }

  return {
    tty: false,
    entries: entries(),
    close() {
      closed = true;
      unsubscribe?.();
      signal();
    },
  };
}
