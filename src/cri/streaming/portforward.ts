/**
 * Port forwarding over SPDY (`portforward.k8s.io`), as kubelet serves it: for each connection
 * the client opens an error stream and a data stream with the same `requestid` and `port`
 * headers; the data stream is relayed to that port inside the pod sandbox's network namespace,
 * and a failure is written as text on the error stream. Both streams end when the relay does.
 */
import type { SpdySession, SpdyStream } from './spdy-session.js';
import type { StreamingRuntime } from './types.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** How long the second stream of a pair may take to follow the first. */
const PAIR_TIMEOUT_MS = 30_000;

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function parsePort(text: string | undefined): number | undefined {
  if (!text || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

export function servePortForward(session: SpdySession, sandboxId: string, runtime: StreamingRuntime, maxPairs: number, log: (msg: string) => void): void {
  const pairs = new Map<string, Pair>();
  const abort = new AbortController();
  session.once('close', () => {
    abort.abort();
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });

  session.on('stream', (s: SpdyStream) => {
    const type = s.header('streamtype');
    if (type !== 'data' && type !== 'error') return s.refuse();
    // Clients older than requestid pair a data stream with the error stream opened just before it.
    const requestId = s.header('requestid') ?? String(type === 'error' ? s.id : s.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      if (pairs.size >= maxPairs) return s.refuse();
      const timer = setTimeout(() => {
        const p = pairs.get(requestId);
        pairs.delete(requestId);
        p?.data?.resetWith(5);
        p?.error?.resetWith(5);
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) return s.refuse();
    s.accept();
    pair[type] = s;
    if (!pair.data || !pair.error) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    void forward(pair.data, pair.error);
  });

  async function forward(data: SpdyStream, error: SpdyStream): Promise<void> {
    error.on('data', () => {}); // the client only closes it
    const portText = data.header('port');
    const port = parsePort(portText);
    try {
      if (port === undefined) throw new Error(`invalid port ${JSON.stringify(portText ?? '')}`);
      await runtime.portForward(sandboxId, port, data, abort.signal);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!abort.signal.aborted) {
        log(`cri port forward ${sandboxId}:${portText}: ${message}`);
        error.write(`error forwarding port ${portText} to pod ${sandboxId}, uid : ${message}`);
      }
    }
    data.end();
    error.end();
  }
}
