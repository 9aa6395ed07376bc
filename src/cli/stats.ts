/** `wharf stats` (and `wharf container stats`): live resource usage, with the Docker CLI's columns and arithmetic. */
import { Command } from 'commander';
import { type CliContext, StatusError, describeError, usage } from './cli-context.js';
import { renderRows } from './format/formatter.js';
import type { TemplateStruct } from '../lib/go-template.js';
import { bytesSize, humanSizeWithPrecision, truncateId } from './format/units.js';
import type { ContainerStatsResponse } from '../api/types.js';

export const DEFAULT_STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

/** The numbers of one row (the Docker CLI's StatsEntry). */
export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  isInvalid: boolean;
}

/** Docker's CPU %: container CPU time over host CPU time since the previous sample, times the CPUs. */
export function cpuPercent(s: ContainerStatsResponse): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
}

/** Memory in use without the page cache: usage minus total_inactive_file (v1) or inactive_file (v2). */
export function memUsageNoCache(mem: ContainerStatsResponse['memory_stats']): number {
  const usage = mem.usage ?? 0;
  const v1 = mem.stats?.['total_inactive_file'];
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = mem.stats?.['inactive_file'] ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

export function toEntry(container: string, s: ContainerStatsResponse): StatsEntry {
  const memory = memUsageNoCache(s.memory_stats ?? {});
  const limit = s.memory_stats?.limit ?? 0;
  let blockRead = 0;
  let blockWrite = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op?.[0];
    if (op === 'r' || op === 'R') blockRead += e.value;
    else if (op === 'w' || op === 'W') blockWrite += e.value;
  }
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return {
    container,
    name: s.name ?? '',
    id: s.id ?? '',
    cpuPercentage: cpuPercent(s),
    memory,
    memoryLimit: limit,
    memoryPercentage: limit !== 0 ? (memory / limit) * 100 : 0,
    networkRx: rx,
    networkTx: tx,
    blockRead,
    blockWrite,
    pidsCurrent: s.pids_stats?.current ?? 0,
    isInvalid: false,
  };
}

/** One row, as Docker's statsContext renders it. */
export class StatsRow implements TemplateStruct {
  constructor(
    private readonly e: StatsEntry,
    private readonly trunc: boolean,
  ) {}

  templateTypeName(): string {
    return '*formatter.statsContext';
  }
  Container(): string {
    return this.e.container;
  }
  Name(): string {
    return this.e.name.length > 1 ? this.e.name.slice(1) : '--';
  }
  ID(): string {
    return this.trunc ? truncateId(this.e.id) : this.e.id;
  }
  CPUPerc(): string {
    return this.e.isInvalid ? '--' : `${this.e.cpuPercentage.toFixed(2)}%`;
  }
  MemUsage(): string {
    return this.e.isInvalid ? '-- / --' : `${bytesSize(this.e.memory)} / ${bytesSize(this.e.memoryLimit)}`;
  }
  MemPerc(): string {
    return this.e.isInvalid ? '--' : `${this.e.memoryPercentage.toFixed(2)}%`;
  }
  NetIO(): string {
    return this.e.isInvalid ? '--' : `${humanSizeWithPrecision(this.e.networkRx, 3)} / ${humanSizeWithPrecision(this.e.networkTx, 3)}`;
  }
  BlockIO(): string {
    return this.e.isInvalid ? '--' : `${humanSizeWithPrecision(this.e.blockRead, 3)} / ${humanSizeWithPrecision(this.e.blockWrite, 3)}`;
  }
  PIDs(): string {
    return this.e.isInvalid ? '--' : String(this.e.pidsCurrent);
  }
  toJSON(): Record<string, string> {
    return {
      BlockIO: this.BlockIO(),
      CPUPerc: this.CPUPerc(),
      Container: this.Container(),
      ID: this.ID(),
      MemPerc: this.MemPerc(),
      MemUsage: this.MemUsage(),
      Name: this.Name(),
      NetIO: this.NetIO(),
      PIDs: this.PIDs(),
    };
  }
}

interface StatsOpts {
  all?: boolean;
  format?: string;
  stream?: boolean;
  trunc?: boolean;
}

/** Follows one container's stats stream, keeping its latest entry. */
class Watcher {
  entry: StatsEntry;
  received = false;
  error: unknown;
  done = false;
  private stop?: () => void;

  constructor(
    readonly container: string,
    private readonly ctx: CliContext,
    private readonly stream: boolean,
  ) {
    this.entry = { container, name: '', id: container, cpuPercentage: 0, memory: 0, memoryLimit: 0, memoryPercentage: 0, networkRx: 0, networkTx: 0, blockRead: 0, blockWrite: 0, pidsCurrent: 0, isInvalid: false };
  }

  async run(onUpdate: () => void): Promise<void> {
    try {
      const res = await this.ctx.client().request('GET', `/containers/${encodeURIComponent(this.container)}/stats`, { query: { stream: this.stream } });
      this.stop = () => res.destroy();
      let buf = '';
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          this.entry = toEntry(this.container, JSON.parse(line) as ContainerStatsResponse);
          this.received = true;
          onUpdate();
        }
      }
    } catch (err) {
      if (!this.done) {
        this.error = err;
        this.entry = { ...this.entry, isInvalid: true };
      }
    } finally {
      this.done = true;
      onUpdate();
    }
  }

  close(): void {
    this.done = true;
    this.stop?.();
  }
}

async function runStats(ctx: CliContext, names: string[], opts: StatsOpts): Promise<void> {
  const stream = opts.stream !== false;
  const trunc = opts.trunc !== false;
  const format = opts.format || DEFAULT_STATS_TABLE;
  const watchers = new Map<string, Watcher>();
  let changed: () => void = () => {};
  const start = (container: string) => {
    const w = new Watcher(container, ctx, stream);
    watchers.set(container, w);
    void w.run(() => changed());
  };
  const listed = names.length === 0;
  const refreshList = async () => {
    const cs = await ctx.client().containerList({ all: !!opts.all });
    const ids = new Set(cs.map((c) => c.Id.slice(0, 12)));
    for (const id of ids) if (!watchers.has(id)) start(id.slice(0, 12));
    for (const [id, w] of watchers) {
      if (!ids.has(id)) {
        w.close();
        watchers.delete(id);
      }
    }
  };
  if (listed) await refreshList();
  else for (const n of names) start(n);

  const render = () => {
    const rows = [...watchers.values()].filter((w) => !(listed && w.error)).map((w) => new StatsRow(w.entry, trunc));
    return renderRows(format, rows, STATS_HEADERS);
  };

  if (!stream) {
    await new Promise<void>((resolve) => {
      changed = () => {
        if ([...watchers.values()].every((w) => w.done)) resolve();
      };
      changed();
    });
    const errors = [...watchers.values()].filter((w) => w.error && !listed).map((w) => describeError(w.error));
    if (errors.length) throw new StatusError(1, errors.join('\n'));
    ctx.out.write(render());
    return;
  }

  const tty = !!ctx.out.isTTY;
  if (tty) ctx.out.write('\x1b[2J');
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (listed) await refreshList().catch(() => {});
    const failed = [...watchers.values()].filter((w) => w.error && !listed);
    if (failed.length && failed.length === watchers.size) {
      throw new StatusError(1, failed.map((w) => describeError(w.error)).join('\n'));
    }
    const text = render();
    if (tty) {
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      ctx.out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K\n`).join('')}\x1b[J`);
    } else {
      ctx.out.write(text);
    }
    if (!listed && [...watchers.values()].every((w) => w.done)) return;
  }
}

export function defineStats(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[containers...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', 'Do not truncate output')
    .action((containers: string[], opts: StatsOpts) => runStats(ctx, containers, opts));
  parent.addCommand(cmd);
  return usage(cmd, 'stats [OPTIONS] [CONTAINER...]');
}
