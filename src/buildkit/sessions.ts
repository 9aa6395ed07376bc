/**
 * The client sessions of BuildKit builds: each is a connection the client opened on /session,
 * on which the client serves its directories (and credentials) and wharfd is the gRPC client.
 * A build names its session by id; the session may connect a moment after the build is asked for.
 */
import type { Duplex } from 'node:stream';
import { GrpcClient, GrpcError, Status } from './grpc.js';

/** How long a build waits for the session it names to connect. */
const SESSION_WAIT_MS = 30_000;

export interface SessionInfo {
  id: string;
  name: string;
  /** The gRPC methods the client serves (`/moby.filesync.v1.FileSync/DiffCopy`…). */
  methods: string[];
}

export class Sessions {
  private readonly open = new Map<string, { info: SessionInfo; client: GrpcClient }>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Ids of /session requests still being upgraded (the route releases each once attached or failed). */
  private readonly claimed = new Set<string>();

  /** Holds `id` for a connection being upgraded; false when it is connected or held. */
  claim(id: string): boolean {
    if (this.has(id) || this.claimed.has(id)) return false;
    this.claimed.add(id);
    return true;
  }

  release(id: string): void {
    this.claimed.delete(id);
  }

  /** Takes over a /session connection. */
  attach(info: SessionInfo, socket: Duplex, head: Buffer): void {
    const client = new GrpcClient(socket, head);
    this.open.get(info.id)?.client.close();
    this.open.set(info.id, { info, client });
    client.onClose(() => {
      if (this.open.get(info.id)?.client === client) this.open.delete(info.id);
    });
    for (const w of this.waiters.get(info.id) ?? []) w();
  }

  has(id: string): boolean {
    const s = this.open.get(id);
    return s !== undefined && !s.client.closed;
  }

  /** The session `id`, waiting a while for it to connect. */
  async get(id: string, signal: AbortSignal): Promise<{ info: SessionInfo; client: GrpcClient }> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(SESSION_WAIT_MS)]);
    for (;;) {
      const s = this.open.get(id);
      if (s && !s.client.closed) return s;
      if (deadline.aborted) throw new GrpcError(Status.NOT_FOUND, `no active session for ${id}: context deadline exceeded`);
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(id) ?? new Set();
        this.waiters.set(id, set);
        const done = () => {
          set.delete(done);
          if (set.size === 0) this.waiters.delete(id);
          deadline.removeEventListener('abort', done);
          resolve();
        };
        set.add(done);
        deadline.addEventListener('abort', done, { once: true });
      });
    }
  }
}
