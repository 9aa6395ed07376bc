/**
 * conmon's control endpoints, shared by the container runtime (conmon.ts) and exec sessions
 * (conmon-exec.ts): the ctl fifo for terminal sizes and runc's error text from its log lines.
 * The attach socket has its own module (conmon-attach.ts).
 */
import { constants as fsConstants } from 'node:fs';
import { open, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { setHeldPtySize } from '../lib/pty-size.js';

/**
 * `<execRoot>/conmon/<id>.bundle`, the runtime's link to a container's bundle, where conmon
 * (--full-attach) makes the attach socket, the ctl fifo and the oom file. (Without --full-attach,
 * conmon binds them through a `<socket-dir>/<id>` link whose name it cuts one character short when
 * that path is 107 bytes long, and wharfd then found no socket: the container's output was lost.)
 */
export function bundleLinkOf(execRoot: string, id: string): string {
  return join(execRoot, 'conmon', `${id}.bundle`);
}

/** runc prints logrus lines (`time=... level=error msg="..."`); the last msg is the error. */
export function runtimeErrorMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  for (const line of [...lines].reverse()) {
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line) as { msg?: string; level?: string };
        if (j.msg) return j.msg;
      } catch {
        /* not JSON */
      }
    }
    const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
    if (msg !== undefined) {
      try {
        return JSON.parse(`"${msg}"`) as string;
      } catch {
        return msg;
      }
    }
  }
  return lines.join('\n').trim();
}

/**
 * Sets the terminal size of the conmon whose ctl fifo is in `dir` and whose pid is in `pidFile`:
 * on the pty master it holds, so that the size is set when this returns, as Docker's is; else
 * (no addon, a kernel before 5.6) through the ctl fifo, which conmon applies a moment
 * later. `message('gone')` when conmon is not there.
 */
export async function setTerminalSize(dir: string, pidFile: string, height: number, width: number, failure: (msg: string) => Error): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  const ctl = join(await realpath(dir).catch(() => dir), 'ctl');
  if (await setHeldPtySize(pid, height, width, (targets) => targets.includes(ctl))) return;
  await writeTerminalSize(dir, height, width, failure);
}

/** Sets the terminal size through conmon's ctl fifo in `dir`; throws `failure('gone')` when conmon is not there. */
async function writeTerminalSize(dir: string, height: number, width: number, failure: (msg: string) => Error): Promise<void> {
  let fh;
  try {
    // Non-blocking: fails with ENXIO instead of hanging when conmon is gone.
    fh = await open(join(dir, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw failure(code === 'ENOENT' || code === 'ENXIO' ? 'gone' : (err as Error).message);
  }
  try {
    await fh.write(`1 ${Math.max(0, Math.floor(height))} ${Math.max(0, Math.floor(width))}\n`);
  } finally {
    await fh.close();
  }
}
