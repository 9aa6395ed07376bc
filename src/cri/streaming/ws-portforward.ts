/**
 * Port forwarding over one WebSocket, as kubelet serves it: the ports come as `port` query
 * parameters (else from the PortForwardRequest); port i has data channel 2i and error channel
 * 2i+1, each of which first carries the port as two little-endian bytes. Each data channel is
 * relayed once; the socket closes when every relay has ended.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { parsePort } from './portforward.js';
import type { StreamingRuntime } from './types.js';

export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** Most ports one WebSocket may forward. */
const MAX_PORTS = 16;

export function wsPortForwardPorts(query: URLSearchParams, requested: number[]): number[] | string {
  const texts = query.getAll('port');
  const ports = texts.length ? texts.map((t) => parsePort(t)) : requested;
  if (ports.length === 0) return 'query parameter "port" is required';
  if (ports.length > MAX_PORTS) return `at most ${MAX_PORTS} ports per connection`;
  if (ports.some((p) => p === undefined || p < 1 || p > 65535)) return `invalid port in ${JSON.stringify(texts.join(','))}`;
  return ports as number[];
}

export function serveWsPortForward(ws: WebSocket, sandboxId: string, ports: number[], runtime: StreamingRuntime, log: (msg: string) => void): void {
  const base64 = ws.protocol.includes('base64');
  const abort = new AbortController();
  const send = (channel: number, data: Buffer, cb: () => void = () => {}) => {
    if (ws.readyState !== ws.OPEN) return cb();
    ws.send(base64 ? String.fromCharCode(48 + channel) + data.toString('base64') : Buffer.concat([Buffer.from([channel]), data]), { binary: !base64 }, () => cb());
  };
  const streams = ports.map((_, i) => {
    const d = new Duplex({
      read: () => ws.resume(),
      write: (chunk: Buffer, _enc, cb) => send(2 * i, chunk, cb),
      final: (cb) => cb(),
    });
    d.on('error', () => {});
    return d;
  });

  ws.on('message', (msg: Buffer, isBinary: boolean) => {
    let channel: number;
    let data: Buffer;
    if (base64 && !isBinary) {
      const text = msg.toString('latin1');
      channel = text.charCodeAt(0) - 48;
      data = Buffer.from(text.slice(1), 'base64');
    } else {
      if (!msg.length) return;
      channel = msg[0]!;
      data = msg.subarray(1);
    }
    const target = channel % 2 === 0 ? streams[channel / 2] : undefined;
    if (!target || target.readableEnded || !data.length) return;
    if (!target.push(Buffer.from(data))) ws.pause();
  });
  ws.once('close', () => {
    abort.abort();
    for (const s of streams) s.destroy();
  });

  for (const [i, port] of ports.entries()) {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
  }
  let left = ports.length;
  ports.forEach((port, i) => {
    const stream = streams[i]!;
    runtime
      .portForward(sandboxId, port, stream, abort.signal)
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (abort.signal.aborted) return;
        log(`cri port forward ${sandboxId}:${port}: ${message}`);
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${sandboxId}, uid : ${message}`));
      })
      .finally(() => {
        if (--left === 0) ws.close(1000);
      });
  });
}
