/**
 * `docker top`: runs the host's ps with the user's options and keeps the rows whose PID
 * belongs to the container (same PID namespace as its init process).
 */
import { readdir, readlink } from 'node:fs/promises';
import type { ContainerTop } from '../../api/types.js';
import { conflict, invalidParameter, systemError } from '../../lib/errors.js';
import { run, type CommandError } from '../../lib/run.js';
import type { ContainerCore } from './core.js';

/** The init process ended between the state check and the look at /proc. */
export class ProcessGoneError extends Error {}

async function pidsInNamespaceOf(initPid: number): Promise<Set<number>> {
  const ns = await readlink(`/proc/${initPid}/ns/pid`).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') throw new ProcessGoneError(`process ${initPid} is gone`);
    throw err;
  });
  const pids = new Set<number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const other = await readlink(`/proc/${name}/ns/pid`).catch(() => undefined);
    if (other === ns) pids.add(Number(name));
  }
  return pids;
}

/** Splits ps output into Titles and Processes; the last column may contain spaces. */
export function parsePsOutput(output: string, pids: Set<number>): ContainerTop {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const titles = lines[0]?.trim().split(/\s+/) ?? [];
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalidParameter(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    const pid = Number(row[pidCol]);
    if (Number.isNaN(pid)) throw invalidParameter(`Unexpected pid '${row[pidCol]}': not a number`);
    if (pids.has(pid)) processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

export async function runTop(initPid: number, psArgs = '-ef'): Promise<ContainerTop> {
  const pids = await pidsInNamespaceOf(initPid);
  const stdout = await run('ps', psArgs.split(/\s+/).filter(Boolean)).catch((err: CommandError) => {
    // moby keeps the first line of ps's complaint (procps adds its usage after it).
    throw systemError(`ps: ${(err.stderr.split('\n')[0] || err.message).trim()}`);
  });
  return parsePsOutput(stdout, pids);
}

/** GET /containers/{id}/top: Docker's checks, then runTop. */
export async function topContainer(c: ContainerCore, ref: string, psArgs?: string): Promise<ContainerTop> {
  const rec = c.get(ref);
  await c.startSettled(rec);
  if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
  if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
  return runTop(rec.State.Pid, psArgs).catch((err: unknown) => {
    // It exited while we looked: what Docker says of a container that is not running.
    if (err instanceof ProcessGoneError) throw conflict(`container ${rec.ID} is not running`);
    throw err;
  });
}
