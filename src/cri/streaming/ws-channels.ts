/**
 * Exec/attach channels over one WebSocket, as kubelet's websocket streaming speaks them: each
 * message starts with its channel number (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize) as a
 * byte, or for the base64 protocols as an ASCII digit followed by base64 text. v5 adds the close
 * signal: a message [255, channel] half-closes that channel (stdin's EOF).
 */
import { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { CommandChannels, CommandOptions } from './channels.js';

/** Sub-protocols we accept, best first ("" is a client that names none: binary v1). */
export const WS_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE_SIGNAL = 255;
const FINISH_GRACE_MS = 10_000;

/** Picks the protocol as kubelet does: the first the client offers that we speak. */
export function pickWsProtocol(offered: Set<string>): string | false {
  for (const p of offered) if (WS_COMMAND_PROTOCOLS.includes(p)) return p;
  return offered.size === 0 ? '' : false;
}

export function wsCommandChannels(ws: WebSocket, opts: CommandOptions): CommandChannels {
  const protocol = ws.protocol || 'channel.k8s.io';
  const base64 = protocol.includes('base64');
  const abort = new AbortController();

  const send = (channel: number, data: Buffer, cb: (err?: Error | null) => void) => {
    if (ws.readyState !== ws.OPEN) return cb(); // the client is gone: drop
    const frame = base64 ? String.fromCharCode(48 + channel) + data.toString('base64') : Buffer.concat([Buffer.from([channel]), data]);
    ws.send(frame, { binary: !base64 }, () => cb());
  };
  const output = (channel: number) => {
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => send(channel, chunk, cb),
    });
    w.on('error', () => {});
    return w;
  };
  const input = () => {
    const r = new Readable({ read: () => ws.resume() });
    r.on('error', () => {});
    return r;
  };

  const stdin = opts.stdin ? input() : null;
  const resize = opts.tty ? input() : null;
  const inputs = new Map<number, Readable>();
  if (stdin) inputs.set(STDIN, stdin);
  if (resize) inputs.set(RESIZE, resize);
  const stdout = opts.stdout ? output(STDOUT) : null;
  const stderr = opts.stderr && !opts.tty ? output(STDERR) : null;
  const error = output(ERROR);

  ws.on('message', (msg: Buffer, isBinary: boolean) => {
    let channel: number;
    let data: Buffer;
    if (base64 && !isBinary) {
      const text = msg.toString('latin1');
      if (!text) return;
      channel = text.charCodeAt(0) - 48;
      data = Buffer.from(text.slice(1), 'base64');
    } else {
      if (!msg.length) return;
      channel = msg[0]!;
      data = msg.subarray(1);
    }
    if (channel === CLOSE_SIGNAL && protocol.startsWith('v5.')) {
      const target = data.length ? inputs.get(data[0]!) : undefined;
      target?.push(null);
      return;
    }
    const target = inputs.get(channel);
    if (!target || target.readableEnded || !data.length) return; // output channels and unknown ones carry nothing for us
    if (!target.push(Buffer.from(data))) ws.pause();
  });
  const gone = () => {
    abort.abort();
    for (const r of inputs.values()) r.destroy();
    for (const w of [stdout, stderr, error]) w?.destroy();
  };
  ws.once('close', gone);
  ws.once('error', gone);

  // kubelet's first message: an empty one on the lowest output channel, telling the client it is connected.
  send(stdout ? STDOUT : stderr ? STDERR : ERROR, Buffer.alloc(0), () => {});

  return {
    protocol,
    stdin,
    stdout,
    stderr,
    error,
    resize,
    signal: abort.signal,
    finish: () => {
      const outs = [stdout, stderr, error].filter((w): w is Writable => !!w);
      let left = outs.length;
      const done = () => {
        if (--left > 0) return;
        ws.close(1000);
        setTimeout(() => ws.terminate(), FINISH_GRACE_MS).unref();
      };
      for (const w of outs) w.end(done);
    },
  };
}
