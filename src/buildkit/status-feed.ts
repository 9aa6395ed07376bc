/**
 * A build's progress as BuildKit's Status stream carries it: vertexes (one per step, started,
 * cached, completed or failed), their statuses (a transfer, a layer's download) and their logs.
 * The client may ask for the stream before or after the build starts: what was published before
 * it asked is replayed (bounded), and a client that reads slowly slows the build down rather than
 * the daemon holding its output.
 */
import { randomBytes } from 'node:crypto';
import type { StatusResponse, Timestamp, Vertex, VertexStatus } from './proto.js';

/** Published updates kept for a client that has not asked for the stream yet. */
const MAX_REPLAY_BYTES = 8 << 20;

type Subscriber = (r: StatusResponse) => Promise<void>;

export function timestamp(ms = Date.now()): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function emptyResponse(): StatusResponse {
  return { vertexes: [], statuses: [], logs: [], warnings: [] };
}

function sizeOf(r: StatusResponse): number {
  return r.logs.reduce((n, l) => n + l.msg.length, 0) + (r.vertexes.length + r.statuses.length) * 128;
}

export class StatusFeed {
  private readonly replay: StatusResponse[] = [];
  private replayBytes = 0;
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;
  private readonly closeWaiters: Array<() => void> = [];

  async publish(r: StatusResponse): Promise<void> {
    if (this.closed) return;
    if (this.subscribers.size === 0) {
      this.replay.push(r);
      this.replayBytes += sizeOf(r);
      // Logs are what grows: drop the oldest ones, never a vertex (a late client must still see every step).
      while (this.replayBytes > MAX_REPLAY_BYTES) {
        const old = this.replay.find((x) => x.logs.length > 0);
        if (!old) break;
        this.replayBytes -= old.logs.reduce((n, l) => n + l.msg.length, 0);
        old.logs = [];
      }
      return;
    }
    await Promise.all([...this.subscribers].map((s) => s(r).catch(() => this.subscribers.delete(s))));
  }

  /** Sends everything so far and then each update, until the build ends or `signal` aborts. */
  async subscribe(send: Subscriber, signal: AbortSignal): Promise<void> {
    while (this.replay.length) {
      const r = this.replay.shift()!;
      this.replayBytes -= sizeOf(r);
      await send(r);
    }
    if (this.closed || signal.aborted) return;
    this.subscribers.add(send);
    try {
      await new Promise<void>((resolve) => {
        this.closeWaiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      this.subscribers.delete(send);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.closeWaiters.splice(0)) w();
  }
}

/** One step of the build as the client shows it (`#5 [2/3] RUN make`). */
export class VertexHandle {
  private readonly vertex: Vertex;
  private done = false;

  constructor(
    private readonly feed: StatusFeed,
    name: string,
  ) {
    this.vertex = { digest: `sha256:${randomBytes(32).toString('hex')}`, name, started: timestamp() };
  }

  get digest(): string {
    return this.vertex.digest;
  }

  get completed(): boolean {
    return this.done;
  }

  start(): Promise<void> {
    return this.feed.publish({ ...emptyResponse(), vertexes: [{ ...this.vertex }] });
  }

  complete(opts: { cached?: boolean; error?: string } = {}): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    if (opts.cached) this.vertex.cached = true;
    if (opts.error) this.vertex.error = opts.error;
    this.vertex.completed = timestamp();
    return this.feed.publish({ ...emptyResponse(), vertexes: [{ ...this.vertex }] });
  }

  log(text: string | Buffer, stream = 1): Promise<void> {
    const msg = Buffer.isBuffer(text) ? text : Buffer.from(text);
    if (msg.length === 0) return Promise.resolve();
    return this.feed.publish({ ...emptyResponse(), logs: [{ vertex: this.vertex.digest, timestamp: timestamp(), stream, msg }] });
  }

  /** A named part of the step (`transferring context: 2.1kB`, a layer's download); `done` completes it. */
  status(s: { id: string; name?: string; current?: number; total?: number; done?: boolean; started?: Timestamp }): Promise<void> {
    const now = timestamp();
    const st: VertexStatus = {
      ID: s.id,
      vertex: this.vertex.digest,
      name: s.name ?? s.id,
      current: s.current ?? 0,
      total: s.total ?? 0,
      timestamp: now,
      started: s.started ?? now,
      ...(s.done ? { completed: now } : {}),
    };
    return this.feed.publish({ ...emptyResponse(), statuses: [st] });
  }
}
