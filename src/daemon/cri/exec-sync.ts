/**
 * ExecSync: runs a command in a running container as an engine exec instance (so `docker inspect`
 * lists it meanwhile) and answers with its stdout, stderr and exit code. Past the request's
 * timeout the process is killed and the call fails with DEADLINE_EXCEEDED, as containerd does.
 */
import { DeadlineExceededError } from '../../cri/backend.js';
import { conflict, invalidParameter } from '../../lib/errors.js';
import { hasProcess } from '../../container/state.js';
import type { CriEngine } from './engine.js';
import type { CriContainer } from './containers.js';

/** Each stream keeps at most this much (kubelet's gRPC messages are capped at 16 MiB). */
export const EXEC_SYNC_OUTPUT_CAP = 8 << 20;
/** "No timeout" still ends: setTimeout's largest delay (~24.8 days). */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    const room = EXEC_SYNC_OUTPUT_CAP - this.size;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(part);
    this.size += part.length;
  }

  get buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export async function execSync(engine: CriEngine, c: CriContainer, cmd: string[], timeoutSeconds: number): Promise<{ stdout: Buffer; stderr: Buffer; exit_code: number }> {
  if (!cmd.length) throw invalidParameter('exec command must not be empty');
  if (!hasProcess(c.rec.State)) throw conflict(`container ${c.rec.ID} is not running`);
  const out = { stdout: new CappedBuffer(), stderr: new CappedBuffer() };
  const timeoutMs = timeoutSeconds > 0 ? Math.min(timeoutSeconds * 1000, NO_TIMEOUT_MS) : NO_TIMEOUT_MS;
  const res = await engine.exec.probe(c.rec, cmd, (chunk, stream) => out[stream].push(chunk), timeoutMs);
  if (res.timedOut) throw new DeadlineExceededError(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeoutSeconds}s`);
  return { stdout: out.stdout.buffer, stderr: out.stderr.buffer, exit_code: res.exitCode };
}
