/**
 * The CRI streaming contract. Exec, Attach and PortForward RPCs only hand out a URL; the client
 * (kubelet, crictl) then connects to the streaming server at that URL and speaks SPDY/3.1 or
 * WebSocket with the `channel.k8s.io` stream protocols. The server runs the session through a
 * StreamingRuntime, which the engine implements.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { AttachRequest__Output } from '../gen/runtime/v1/AttachRequest.js';
import type { ExecRequest__Output } from '../gen/runtime/v1/ExecRequest.js';
import type { PortForwardRequest__Output } from '../gen/runtime/v1/PortForwardRequest.js';

export interface TerminalSize {
  width: number;
  height: number;
}

/** One exec or attach session's streams, as the client asked for them. */
export interface SessionStreams {
  stdin: Readable | null;
  stdout: Writable | null;
  /** Null when tty (output goes to stdout) or when the client did not ask for stderr. */
  stderr: Writable | null;
  tty: boolean;
  /** Emits each terminal size the client sends (the resize channel). */
  resize: AsyncIterable<TerminalSize> | null;
  /** With a tty: the client's terminal size when the session began, if it sent one at once. */
  initialSize?: TerminalSize;
  signal: AbortSignal;
}

/** What the streaming server needs from the engine (implemented in daemon/cri/). */
export interface StreamingRuntime {
  /** Runs cmd in the container; resolves with its exit code. */
  exec(containerId: string, cmd: string[], streams: SessionStreams): Promise<number>;
  /** Attaches to the container's main process until it exits or the client leaves. */
  attach(containerId: string, streams: SessionStreams): Promise<void>;
  /** Connects one stream to `port` on localhost inside the pod sandbox's network namespace. */
  portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
  /** Throws (NotFound, Conflict) when the RPC should fail before a URL is handed out. */
  checkContainer?(containerId: string): Promise<void>;
  checkSandbox?(podSandboxId: string): Promise<void>;
}

/** The streaming server as the RPC handlers see it. */
export interface StreamingServer {
  getExec(req: ExecRequest__Output): Promise<{ url: string }>;
  getAttach(req: AttachRequest__Output): Promise<{ url: string }>;
  getPortForward(req: PortForwardRequest__Output): Promise<{ url: string }>;
  close(): Promise<void>;
}
