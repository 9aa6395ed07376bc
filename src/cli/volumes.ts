/** `wharf volume create|ls|inspect|rm|prune`, as the Docker CLI has them. */
import { Command } from 'commander';
import type { Volume } from '../api/types.js';
import { collectFilter, StatusError, collect, confirm, describeError, keyValues, parseFilters, usage, type CliContext } from './cli-context.js';
import { renderRows } from './format/formatter.js';
import { naturalCompare } from './format/network-format.js';
import { TemplateError, type TemplateStruct } from '../lib/go-template.js';
import { writeInspected } from './format/inspect-output.js';
import { humanSize } from './format/units.js';

const VOLUME_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};
const DEFAULT_VOLUME_TABLE = 'table {{.Driver}}\t{{.Name}}';

/** One `volume ls` row (Docker's volumeContext). */
export class VolumeRow implements TemplateStruct {
  constructor(private readonly v: Volume) {}
  templateTypeName(): string {
    return '*formatter.volumeContext';
  }
  Name(): string {
    return this.v.Name;
  }
  Driver(): string {
    return this.v.Driver;
  }
  Scope(): string {
    return this.v.Scope;
  }
  Mountpoint(): string {
    return this.v.Mountpoint;
  }
  Labels(): string {
    return Object.entries(this.v.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
  }
  Label(name: string): string {
    return this.v.Labels?.[name] ?? '';
  }
  Links(): string {
    return this.v.UsageData ? String(this.v.UsageData.RefCount) : 'N/A';
  }
  Size(): string {
    return this.v.UsageData ? humanSize(this.v.UsageData.Size) : 'N/A';
  }
  Group(): string {
    return 'N/A';
  }
  Availability(): string {
    return 'N/A';
  }
  Status(): string {
    return 'N/A';
  }
}

function templateError(err: unknown): never {
  if (err instanceof TemplateError) throw new StatusError(1, `template parsing error: ${err.message}`);
  throw err;
}

export function defineCreate(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('create');
  parent.addCommand(cmd);
  usage(cmd, 'create [OPTIONS] [VOLUME]')
    .description('Create a volume')
    .argument('[volume]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect)
    .option('--label <list>', 'Set metadata for a volume', collect)
    .action(async (positional: string | undefined, o: { driver: string; name?: string; opt?: string[]; label?: string[] }) => {
      if (positional && o.name) {
        throw new Error('conflicting options: cannot specify a volume-name through both --name and as a positional arg');
      }
      const v = await ctx.client().volumeCreate({
        Name: positional ?? o.name ?? '',
        Driver: o.driver,
        DriverOpts: keyValues(o.opt),
        Labels: keyValues(o.label),
      });
      ctx.out.write(`${v.Name}\n`);
    });
  return cmd;
}

export function defineLs(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('ls');
  parent.addCommand(cmd);
  usage(cmd, 'ls [OPTIONS]')
    .description('List volumes')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true")', collectFilter)
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display volume names')
    .action(async (o: { filter?: string[]; format?: string; quiet?: boolean }) => {
      const res = await ctx.client().volumeList(parseFilters(o.filter));
      const list = [...(res.Volumes ?? [])].sort((a, b) => naturalCompare(a.Name, b.Name));
      let format = o.format ?? '';
      if (format === '' || format === 'table') format = o.quiet ? '{{.Name}}' : DEFAULT_VOLUME_TABLE;
      else if (o.quiet) format = '{{.Name}}';
      try {
        ctx.out.write(renderRows(format, list.map((v) => new VolumeRow(v)), VOLUME_HEADERS));
      } catch (err) {
        templateError(err);
      }
      for (const w of res.Warnings ?? []) ctx.err.write(`${w}\n`);
    });
  return cmd;
}

export function defineInspect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('inspect');
  parent.addCommand(cmd);
  usage(cmd, 'inspect [OPTIONS] VOLUME [VOLUME...]')
    .description('Display detailed information on one or more volumes')
    .argument('<volume...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], o: { format?: string }) => {
      await writeInspected(ctx, names, (name) => ctx.client().volumeInspect(name), o.format);
    });
  return cmd;
}

export function defineRm(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('rm');
  parent.addCommand(cmd);
  usage(cmd, 'rm [OPTIONS] VOLUME [VOLUME...]')
    .description('Remove one or more volumes')
    .argument('<volume...>')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(async (names: string[], o: { force?: boolean }) => {
      const errors: string[] = [];
      for (const name of names) {
        try {
          await ctx.client().volumeRemove(name, !!o.force);
        } catch (err) {
          errors.push(describeError(err));
          continue;
        }
        ctx.out.write(`${name}\n`);
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    });
  return cmd;
}

export function definePrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune [OPTIONS]')
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const filters = parseFilters(o.filter);
      let warning = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
      if (o.all) {
        if (filters.all) throw new Error('conflicting options: cannot specify both --all and --filter all=1');
        filters.all = ['true'];
        warning = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?';
      }
      if (!o.force && !(await confirm(ctx, warning))) throw new StatusError(1, 'volume prune has been cancelled');
      const report = await ctx.client().volumePrune(filters);
      const deleted = report.VolumesDeleted ?? [];
      if (deleted.length) ctx.out.write(`Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
      ctx.out.write(`Total reclaimed space: ${humanSize(deleted.length ? report.SpaceReclaimed : 0)}\n`);
    });
  return cmd;
}
