/**
 * A deliberately slow API client and wharfd's RSS and threads, for the back-pressure test and benches:
 * a stdcopy stream read at a fixed budget per timer tick, paused in between.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';

/** The slow client reads at most this much per tick by default (~26 MB/s). */
export const BYTES_PER_TICK = 256 * 1024;
const TICK_MS = 10;

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** A process's threads (each of wharfd's layer extraction workers is one more while it lives). */
export function threadCount(pid: number): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Samples wharfd's RSS until stopped; returns the peak. */
export function sampleRss(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** A hijacked (attach, exec start) or plain streaming (logs) response's byte stream. */
export function openStream(socketPath: string, method: string, path: string, body?: unknown): Promise<{ stream: Socket | http.IncomingMessage; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const req = http.request({
      socketPath,
      method,
      path,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': payload.length,
        ...(method === 'POST' ? { Connection: 'Upgrade', Upgrade: 'tcp' } : {}),
      },
    });
    req.on('upgrade', (_res, socket, head) => resolve({ stream: socket, head }));
    req.on('response', (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
      else resolve({ stream: res, head: Buffer.alloc(0) });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Reads a stdcopy stream at BYTES_PER_TICK per tick: paused between ticks, so the daemon's
 * writes to this client back up. Resolves with the sha256 of stdout and the stderr text.
 */
export function slowRead(stream: Socket | http.IncomingMessage, head: Buffer, perTick = BYTES_PER_TICK): Promise<{ bytes: number; sha256: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    let pending: Buffer = Buffer.alloc(0);
    let budget = perTick;
    const consume = (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (pending.length < 8) return;
        const len = pending.readUInt32BE(4);
        if (pending.length < 8 + len) return;
        const payload = pending.subarray(8, 8 + len);
        if (pending[0] === 1) {
          hash.update(payload);
          bytes += payload.length;
        } else stderr += payload.toString();
        pending = pending.subarray(8 + len);
      }
    };
    consume(head);
    const tick = setInterval(() => {
      budget = perTick;
      stream.resume();
    }, TICK_MS);
    stream.on('data', (chunk: Buffer) => {
      consume(chunk);
      budget -= chunk.length;
      if (budget <= 0) stream.pause();
    });
    stream.on('end', () => {
      clearInterval(tick);
      resolve({ bytes, sha256: hash.digest('hex'), stderr: stderr.trim() });
    });
    stream.on('error', (err) => {
      clearInterval(tick);
      reject(err);
    });
  });
}

