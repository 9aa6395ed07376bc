/**
 * The engine side of CRI streaming: exec through the daemon's exec instances, attach through the
 * container's attach, and port forwarding into a pod sandbox's network namespace.
 *
 * Port forwarding holds the sandbox's netns open by file descriptor (so a recycled pid cannot
 * redirect it) and runs `nsenter --net=/proc/self/fd/3 socat - TCP4:127.0.0.1:<port>`: the relay
 * connects from inside the namespace and the stream is its stdio, with back-pressure and
 * half-close both ways. The daemon itself never enters another namespace.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Writable, type Duplex } from 'node:stream';
import type { ContainerBackend } from '../../api/backend.js';
import type { ExecBackend } from '../../api/backend.js';
import type { SessionStreams, StreamingRuntime } from '../../cri/streaming/types.js';
import { conflict } from '../../lib/errors.js';

export interface StreamingRuntimeDeps {
  containers: Pick<ContainerBackend, 'attach' | 'resize' | 'inspect'>;
  execs: Pick<ExecBackend, 'create' | 'start' | 'resize' | 'inspect'>;
  log: (msg: string) => void;
}

/**
 * Seconds socat keeps a connection after one direction ended, waiting for the other: containerd
 * gives the second direction one second too. The client learns of the end by the error stream's
 * EOF, so a long wait here would hold every client whose server closes first.
 */
const HALF_CLOSE_SECONDS = 1;
const MAX_RELAY_STDERR = 4096;

export function streamingRuntime(deps: StreamingRuntimeDeps): StreamingRuntime {
  const running = async (id: string) => {
    const c = await deps.containers.inspect(id, { size: false });
    if (!c.State.Running || c.State.Restarting) throw conflict(`container ${c.Id} is not running`);
    return c;
  };

  return {
    checkContainer: async (id) => {
      await running(id);
    },
    checkSandbox: async (id) => {
      await running(id);
    },

    async exec(containerId, cmd, streams) {
      const { Id } = await deps.execs.create(containerId, {
        Cmd: cmd,
        Tty: streams.tty,
        AttachStdin: !!streams.stdin,
        AttachStdout: !!streams.stdout,
        AttachStderr: !!streams.stderr,
        ...(streams.tty && streams.initialSize ? { ConsoleSize: [streams.initialSize.height, streams.initialSize.width] as [number, number] } : {}),
      });
      const session = await deps.execs.start(Id, { detach: false, tty: streams.tty });
      if (!session) throw new Error('exec started detached');
      const killOnAbort = () => {
        // As containerd: a client that goes away takes its exec process with it.
        void deps.execs.inspect(Id).then((ex) => {
          if (ex.Running && ex.Pid > 0) process.kill(ex.Pid, 'SIGKILL');
        }).catch(() => {});
      };
      streams.signal.addEventListener('abort', killOnAbort, { once: true });
      void followResizes(streams, (h, w) => deps.execs.resize(Id, h, w));
      try {
        await session.run(io(streams));
      } finally {
        streams.signal.removeEventListener('abort', killOnAbort);
      }
      const { ExitCode } = await deps.execs.inspect(Id);
      return ExitCode ?? 0;
    },

    async attach(containerId, streams) {
      const session = await deps.containers.attach(containerId, {
        stream: true,
        logs: false,
        stdin: !!streams.stdin,
        stdout: !!streams.stdout,
        stderr: !!streams.stderr,
      });
      const resize = (h: number, w: number) => deps.containers.resize(containerId, h, w);
      if (streams.initialSize) await resize(streams.initialSize.height, streams.initialSize.width).catch(() => {});
      void followResizes(streams, resize);
      await session.run(io(streams));
    },

    async portForward(podSandboxId, port, stream, signal) {
      const c = await running(podSandboxId);
      const nsFd = openSync(`/proc/${c.State.Pid}/ns/net`, 'r');
      try {
        // The pid may have been reused between inspect and open: make sure it is still the sandbox's.
        const again = await running(podSandboxId);
        if (again.State.Pid !== c.State.Pid) throw conflict(`pod sandbox ${podSandboxId} restarted`);
        await relay(nsFd, port, stream, signal);
      } finally {
        closeSync(nsFd);
      }
    },
  };
}

/** The session's streams as the engine's AttachIO: an output the client did not ask for is a sink that closes with the session. */
function io(streams: SessionStreams) {
  const sink = () => {
    const w = new Writable({ write: (_c, _e, cb) => cb() });
    streams.signal.addEventListener('abort', () => w.destroy(), { once: true });
    return w;
  };
  const stdout = streams.stdout ?? sink();
  return { stdin: streams.stdin, stdout, stderr: streams.stderr ?? (streams.tty ? stdout : sink()) };
}

async function followResizes(streams: SessionStreams, resize: (height: number, width: number) => Promise<void>): Promise<void> {
  if (!streams.resize) return;
  for await (const size of streams.resize) {
    if (size.width === 0 || size.height === 0) continue;
    await resize(size.height, size.width).catch(() => {});
  }
}

function relay(nsFd: number, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('nsenter', ['--net=/proc/self/fd/3', '--', 'socat', '-t', String(HALF_CLOSE_SECONDS), '-', `TCP4:127.0.0.1:${port}`], {
      stdio: ['pipe', 'pipe', 'pipe', nsFd],
    });
    const { stdin, stdout } = child as unknown as { stdin: NodeJS.WritableStream & Writable; stdout: NodeJS.ReadableStream };
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderr.length < MAX_RELAY_STDERR) stderr += s;
    });
    stdin.on('error', () => {});
    stream.pipe(stdin);
    stdout.pipe(stream); // the server's EOF is the stream's FIN at once
    const kill = () => child.kill('SIGKILL');
    signal.addEventListener('abort', kill, { once: true });
    stream.once('close', kill);
    child.once('error', (err) => reject(err));
    child.once('close', (code) => {
      signal.removeEventListener('abort', kill);
      stream.off('close', kill);
      stream.unpipe(stdin);
      if (code === 0 || signal.aborted) return resolve();
      reject(new Error(relayError(stderr, port)));
    });
  });
}

/** socat's message without its prefix, e.g. `connect(5, AF=2 127.0.0.1:81, 16): Connection refused`. */
function relayError(stderr: string, port: number): string {
  const line = stderr.split('\n').find((l) => / E /.test(l));
  const msg = line ? line.replace(/^.* E /, '').trim() : stderr.trim();
  return `failed to connect to localhost:${port} inside the pod sandbox: ${msg || 'relay failed'}`;
}
