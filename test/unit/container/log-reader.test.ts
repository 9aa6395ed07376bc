import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry, LogsOptions } from '../../../src/api/backend.js';
import { formatCriLine, parseCriLine, readLogs, tailOffset, type FollowControl } from '../../../src/container/log-reader.js';

const BASE = Date.parse('2024-03-01T10:00:00Z');
/** Record i is stamped BASE + i seconds (+ 123456789 ns). */
const ts = (i: number) => new Date(BASE + i * 1000).toISOString().replace(/\.\d{3}Z$/, '.123456789Z');
const line = (i: number, stream: 'stdout' | 'stderr', text: string, partial = false) => formatCriLine(ts(i), stream, text, partial);

const OPTS: LogsOptions = { follow: false, stdout: true, stderr: true, timestamps: false };

class Control implements FollowControl {
  running = true;
  private cbs: Array<() => void> = [];
  isRunning() {
    return this.running;
  }
  onStop(cb: () => void) {
    this.cbs.push(cb);
  }
  stop() {
    this.running = false;
    for (const cb of this.cbs.splice(0)) cb();
  }
}
const stopped = (): Control => Object.assign(new Control(), { running: false });

async function collect(path: string, opts: Partial<LogsOptions>, ctl: FollowControl = stopped()): Promise<string[]> {
  const res = await readLogs(path, { ...OPTS, ...opts }, ctl);
  const out: string[] = [];
  for await (const e of res.entries) out.push(`${e.stream}:${e.data.toString()}`);
  return out;
}

/** Consumes entries in the background; `waitFor(n)` resolves once n have arrived. */
function collector(entries: AsyncIterable<LogEntry>) {
  const got: LogEntry[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  const done = (async () => {
    for await (const e of entries) {
      got.push(e);
      if (waiter && got.length >= waiter.n) waiter.resolve();
    }
  })();
  return {
    got,
    done,
    waitFor(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve) => (waiter = { n, resolve }));
    },
    text: () => got.map((e) => e.data.toString()).join(''),
  };
}

describe('CRI log reader', () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  async function logFile(content: Buffer | string): Promise<string> {
    dir ??= await mkdtemp(join(tmpdir(), 'wharf-logs-'));
    const p = join(dir, `c${n++}.log`);
    await writeFile(p, content);
    return p;
  }

  it('parses and formats CRI lines', () => {
    const l = formatCriLine('2026-03-01T10:00:00.5+01:00', 'stderr', 'a b  c');
    assert.equal(l.toString(), '2026-03-01T10:00:00.5+01:00 stderr F a b  c\n');
    const r = parseCriLine(l.subarray(0, l.length - 1))!;
    assert.deepEqual({ ...r, text: r.text.toString() }, { time: '2026-03-01T10:00:00.5+01:00', stream: 'stderr', partial: false, text: 'a b  c' });
    assert.equal(parseCriLine(Buffer.from('2026-03-01T10:00:00Z stdout F'))!.text.length, 0, 'an empty line');
    assert.equal(parseCriLine(Buffer.from('2026-03-01T10:00:00Z stdout P x'))!.partial, true);
    assert.equal(parseCriLine(Buffer.from('garbage')), undefined);
    assert.equal(parseCriLine(Buffer.from('2026-03-01T10:00:00Z stdin F x')), undefined);
  });

  it('reads all records, a line written in pieces as one, and keeps raw bytes', async () => {
    const bin = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const p = await logFile(Buffer.concat([
      line(0, 'stdout', 'hello'),
      line(1, 'stdout', 'long li', true),
      line(2, 'stdout', 'ne end'),
      line(3, 'stderr', 'oops'),
      Buffer.from('not a record\n'),
      formatCriLine(ts(4), 'stdout', bin),
      line(5, 'stdout', ''),
    ]));
    const res = await readLogs(p, OPTS, stopped());
    const entries: LogEntry[] = [];
    for await (const e of res.entries) entries.push(e);
    assert.deepEqual(entries.map((e) => [e.stream, e.data.toString('latin1')]), [
      ['stdout', 'hello\n'], ['stdout', 'long line end\n'], ['stderr', 'oops\n'],
      ['stdout', Buffer.concat([bin, Buffer.from('\n')]).toString('latin1')], ['stdout', '\n'],
    ]);
    assert.equal(entries[0]!.time, ts(0));
    // A line's time is its last piece's: Docker's copier stamps a line when its newline comes.
    assert.equal(entries[1]!.time, ts(2));
    assert.equal(res.tty, false);
  });

  it("holds a line not ended yet while the container runs, as Docker's copier does; 16 KiB of it go out", async () => {
    const big = 'x'.repeat(10 * 1024);
    const p = await logFile(Buffer.concat([
      line(0, 'stdout', 'prompt> ', true),
      line(1, 'stderr', 'err line'),
      line(2, 'stderr', big, true),
      line(3, 'stderr', big, true),
      line(4, 'stderr', 'tail', true),
    ]));
    const running = await collect(p, {}, new Control());
    assert.deepEqual(running, ['stderr:err line\n', `stderr:${big}${big}`]);
    // Once the container has stopped, what was held is its output.
    assert.deepEqual(await collect(p, {}), ['stderr:err line\n', `stderr:${big}${big}`, 'stdout:prompt> ', 'stderr:tail']);
    // The first 16 KiB of a line carry the time they went out, and so does the rest of that line;
    // a line never ended has its last piece's time.
    const res = await readLogs(p, OPTS, stopped());
    const times: string[] = [];
    for await (const e of res.entries) times.push(e.time);
    assert.deepEqual(times, [ts(1), ts(3), ts(0), ts(3)]);
  });

  it("since and until take a line written in pieces whole, at its end's time, as Docker's copier dates it", async () => {
    const p = await logFile(Buffer.concat([
      line(0, 'stdout', 'early'),
      line(1, 'stdout', 'a line wr', true),
      line(2, 'stdout', 'itten in ', true),
      line(3, 'stdout', 'pieces'),
      line(4, 'stdout', 'late'),
    ]));
    const sec = (i: number) => (BASE + i * 1000) / 1000 + 0.123456789;
    // Begun before since, ended after it: shown whole, not as its last piece.
    assert.deepEqual(await collect(p, { since: sec(2) }), ['stdout:a line written in pieces\n', 'stdout:late\n']);
    // Begun before until, ended after it: not a line of that time yet.
    assert.deepEqual(await collect(p, { until: sec(2) }), ['stdout:early\n']);
    assert.deepEqual(await collect(p, { until: sec(3) }), ['stdout:early\n', 'stdout:a line written in pieces\n']);
  });

  it('selects streams', async () => {
    const p = await logFile(Buffer.concat([line(0, 'stdout', 'o1'), line(1, 'stderr', 'e1'), line(2, 'stdout', 'o2')]));
    assert.deepEqual(await collect(p, { stderr: false }), ['stdout:o1\n', 'stdout:o2\n']);
    assert.deepEqual(await collect(p, { stdout: false }), ['stderr:e1\n']);
  });

  it('filters since / until (fractional unix seconds, inclusive)', async () => {
    const p = await logFile(Buffer.concat([0, 1, 2, 3, 4].map((i) => line(i, 'stdout', `l${i}`))));
    const sec = (i: number) => (BASE + i * 1000) / 1000 + 0.123456789;
    assert.deepEqual(await collect(p, { since: sec(2) }), ['stdout:l2\n', 'stdout:l3\n', 'stdout:l4\n']);
    assert.deepEqual(await collect(p, { since: sec(2) + 0.001 }), ['stdout:l3\n', 'stdout:l4\n']);
    assert.deepEqual(await collect(p, { until: sec(1) }), ['stdout:l0\n', 'stdout:l1\n']);
    assert.deepEqual(await collect(p, { since: sec(1), until: sec(3) - 0.5 }), ['stdout:l1\n', 'stdout:l2\n']);
  });

  it('tails by lines: a P..F run is one line, a trailing P run too, streams all count', async () => {
    const p = await logFile(Buffer.concat([
      line(0, 'stdout', 'one'),
      line(1, 'stdout', 'tw', true),
      line(2, 'stdout', 'o'),
      line(3, 'stderr', 'three'),
      line(4, 'stdout', 'four'),
      line(5, 'stdout', 'fi', true),
      line(6, 'stdout', 've', true),
    ]));
    assert.deepEqual(await collect(p, { tail: 0 }), []);
    assert.deepEqual(await collect(p, { tail: 1 }), ['stdout:five']);
    assert.deepEqual(await collect(p, { tail: 2 }), ['stdout:four\n', 'stdout:five']);
    assert.deepEqual(await collect(p, { tail: 4 }), ['stdout:two\n', 'stderr:three\n', 'stdout:four\n', 'stdout:five']);
    assert.equal((await collect(p, { tail: 5 })).length, 5);
    assert.equal((await collect(p, { tail: 100 })).length, 5);
    assert.deepEqual(await collect(p, { tail: 3, stderr: false }), ['stdout:four\n', 'stdout:five'], 'tail counts stderr too, then selects');
  });

  it('tails a big file across chunk boundaries and ignores an unterminated last line', async () => {
    const recs: Buffer[] = [];
    for (let i = 0; i < 5000; i++) recs.push(line(i % 50, i % 3 === 0 ? 'stderr' : 'stdout', `line ${i} ${'x'.repeat(i % 97)}`));
    const half = line(9, 'stdout', 'half a record').subarray(0, 46);
    const p = await logFile(Buffer.concat([...recs, half]));
    const out = await collect(p, { tail: 1234 }, new Control());
    assert.equal(out.length, 1234);
    assert.equal(out[0], `stdout:line ${5000 - 1234} ${'x'.repeat((5000 - 1234) % 97)}\n`);
    assert.equal(out.at(-1), `stdout:line 4999 ${'x'.repeat(4999 % 97)}\n`);
    // tailOffset directly: the offset of the first tailed record.
    const fh = await open(p, 'r');
    try {
      const size = (await fh.stat()).size;
      const off = await tailOffset(fh, size, 2);
      assert.equal(off, Buffer.concat(recs.slice(0, 4998)).length);
      assert.equal(await tailOffset(fh, size, 0), Buffer.concat(recs).length);
      assert.equal(await tailOffset(fh, size, 99999), 0);
    } finally {
      await fh.close();
    }
    assert.equal((await collect(p, {}, new Control())).length, 5000, 'a half-written last record of a running writer is not a record');
    const all = await collect(p, {}, stopped());
    assert.equal(all.length, 5001, 'once the writer is gone, its unterminated last record is output');
    assert.equal(all.at(-1), 'stdout:half a\n');
  });

  it('reads nothing from a missing file', async () => {
    assert.deepEqual(await collect(join(tmpdir(), 'wharf-no-such-log.log'), {}), []);
    assert.deepEqual(await collect(join(tmpdir(), 'wharf-no-such-log.log'), { follow: true }, stopped()), []);
  });

  it('follow: existing content, then appends (split mid-line), then drains and ends when the container stops', async () => {
    const p = await logFile(Buffer.concat([line(0, 'stdout', 'a'), line(1, 'stdout', 'b')]));
    const ctl = new Control();
    const res = await readLogs(p, { ...OPTS, follow: true, tail: 1 }, ctl);
    const c = collector(res.entries);
    await c.waitFor(1);
    assert.equal(c.text(), 'b\n');
    await appendFile(p, line(2, 'stderr', 'c'));
    await c.waitFor(2);
    assert.equal(c.got[1]!.stream, 'stderr');
    // A record written in two pieces is yielded only once whole.
    const rec = line(3, 'stdout', 'split record');
    await appendFile(p, rec.subarray(0, 10));
    await appendFile(p, Buffer.concat([rec.subarray(10), line(4, 'stdout', 'par', true)]));
    await c.waitFor(3);
    assert.equal(c.text(), 'b\nc\nsplit record\n');
    // A line in pieces comes out once it ends; written right before the stop, the rest must still come out (drain).
    await appendFile(p, Buffer.concat([line(5, 'stdout', 'tial'), line(6, 'stdout', 'last words'), line(7, 'stderr', 'no newline', true)]));
    await c.waitFor(5);
    assert.equal(c.text(), 'b\nc\nsplit record\npartial\nlast words\n');
    ctl.stop();
    await c.done;
    assert.equal(c.text(), 'b\nc\nsplit record\npartial\nlast words\nno newline');
  });

  it('follow waits for a log file that does not exist yet', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'wharf-logs-'));
    const p = join(dir, 'late.log');
    const ctl = new Control();
    const res = await readLogs(p, { ...OPTS, follow: true }, ctl);
    const c = collector(res.entries);
    await writeFile(p, line(0, 'stdout', 'hello late'));
    await c.waitFor(1);
    ctl.stop();
    await c.done;
    assert.equal(c.text(), 'hello late\n');
  });

  it('follow ends on close() without a stop; not-running containers are not followed', async () => {
    const p = await logFile(line(0, 'stdout', 'x'));
    const ctl = new Control();
    const res = await readLogs(p, { ...OPTS, follow: true }, ctl);
    const c = collector(res.entries);
    await c.waitFor(1);
    res.close();
    await c.done;
    assert.equal(c.got.length, 1);
    assert.equal(ctl.running, true);

    // Stopped container: follow returns the content and ends by itself.
    assert.deepEqual(await collect(p, { follow: true }, stopped()), ['stdout:x\n']);
  });

  it('follow with until in the past does not follow', async () => {
    const p = await logFile(Buffer.concat([line(0, 'stdout', 'x'), line(1, 'stdout', 'y')]));
    const ctl = new Control();
    const out = await collect(p, { follow: true, until: (BASE + 500) / 1000 }, ctl);
    assert.deepEqual(out, ['stdout:x\n']);
  });
});
