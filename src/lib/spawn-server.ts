/**
 * The spawn helper's body (started by spawner.ts with an IPC channel): runs each requested tool to
 * completion and answers with its exit status and output. It exists because fork() copies the
 * page tables of the process that spawns: in the daemon, whose heap is large, every spawn stalled
 * the event loop for milliseconds (10 ms at 118 MB RSS here); this process stays small.
 */
import { spawn } from 'node:child_process';
import type { SpawnReply, SpawnRequest } from './spawn-protocol.js';

if (!process.send) throw new Error('spawn-server.js runs with an IPC channel');

const reply = (r: SpawnReply) => {
  // The daemon is gone: nothing to answer.
  if (process.connected) process.send!(r);
};

function runOne(q: SpawnRequest): void {
  let answered = false;
  const answer = (r: Omit<SpawnReply, 'id'>) => {
    if (answered) return;
    answered = true;
    reply({ id: q.id, ...r });
  };
  const child = spawn(q.file, q.args, { cwd: q.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('error', (e: NodeJS.ErrnoException) => answer({ code: null, spawnError: { code: e.code, message: e.message } }));
  if (!child.stdout || !child.stderr || !child.stdin) return;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.on('close', (code) => answer({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  child.stdin.on('error', () => {});
  child.stdin.end(q.input ?? '');
}

process.on('message', (m: SpawnRequest) => runOne(m));
// The daemon went away: finish what runs (its tools must not be cut half-way), then end.
process.on('disconnect', () => {
  process.exitCode = 0;
});
