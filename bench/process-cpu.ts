/**
 * CPU seconds per process while a client command runs: the client itself (/usr/bin/time), the
 * engine's daemon (its /proc stat before and after) and the processes the engine starts for it
 * (its supervisor, conmon or containerd-shim, and what runs under that), sampled from /proc
 * every few ms while the command runs: they are children of pid 1 (the supervisor forks itself
 * away), and the last sample before one exits is what it used (a few ms of it may be missed).
 * On two cores wall time follows the sum of these, so they show where a stream's time goes.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TICKS_PER_SECOND = 100;
const SAMPLE_MS = 5;
const SUPERVISORS = ['conmon', 'containerd-shim'];

interface ProcStat {
  comm: string;
  cpu: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), cpu: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(' ').map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

function cmdlineHas(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

export interface CpuWatch {
  /** The engine's daemon (0: not measured). */
  daemonPid: number;
  /** A string in the command line of the supervisors this engine starts (its root or namespace). */
  marker: string;
}

/** CPU seconds by process name: `client`, `daemon`, the supervisor's and its children's commands. */
export type CpuSplit = Record<string, number>;

/** Runs `cmd args` (stdout to /dev/null); resolves with its wall time in ms and the CPU split. */
export async function runMeasured(cmd: string, args: string[], env: NodeJS.ProcessEnv, watch: CpuWatch | null): Promise<{ ms: number; cpu: CpuSplit }> {
  const timeFile = join(tmpdir(), `wharf-bench-time.${process.pid}`);
  const known = new Set(childPids(1));
  const daemon0 = watch?.daemonPid ? procStat(watch.daemonPid) : null;
  const seen = new Map<number, ProcStat>();
  const sample = () => {
    if (!watch) return;
    for (const p of childPids(1)) {
      if (known.has(p) || seen.has(p)) continue;
      const s = procStat(p);
      if (s && SUPERVISORS.some((n) => s.comm.startsWith(n)) && cmdlineHas(p, watch.marker)) seen.set(p, s);
      else known.add(p);
    }
    for (const p of [...seen.keys()]) {
      const s = procStat(p);
      if (s) seen.set(p, s);
      for (const c of childPids(p)) {
        const cs = procStat(c);
        if (cs) seen.set(c, cs);
      }
    }
  };
  const t0 = performance.now();
  const timer = setInterval(sample, SAMPLE_MS);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
    });
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t0;
  sample();
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  await rm(timeFile, { force: true });
  const cpu: CpuSplit = { client: user! + sys! };
  const daemon1 = watch?.daemonPid ? procStat(watch.daemonPid) : null;
  if (daemon0 && daemon1) cpu.daemon = daemon1.cpu - daemon0.cpu;
  for (const s of seen.values()) {
    const name = SUPERVISORS.find((n) => s.comm.startsWith(n)) ?? s.comm;
    cpu[name] = (cpu[name] ?? 0) + s.cpu;
  }
  return { ms, cpu };
}
