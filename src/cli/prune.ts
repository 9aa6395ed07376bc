/** `image prune`, `builder prune` and `system prune`: Docker's prompts, sections and totals. */
import { Command } from 'commander';
import type { ImageDeleteItem, PruneReport } from '../api/types.js';
import { collectFilter, StatusError, confirm, parseFilters, usage, type CliContext } from './cli-context.js';
import { fromHumanSize, humanSize } from './format/units.js';

type Filters = Record<string, string[]>;

/** A report section: its title and one line per item, or '' when nothing was deleted. */
export function section(title: string, lines: string[]): string {
  return lines.length ? `${title}\n${lines.map((l) => `${l}\n`).join('')}` : '';
}

export function imageLines(items: ImageDeleteItem[] | null | undefined): string[] {
  return (items ?? []).map((i) => (i.Untagged ? `untagged: ${i.Untagged}` : `deleted: ${i.Deleted ?? ''}`));
}

/** Docker prints each non-empty section followed by an empty line, then the total. */
function writeReport(ctx: CliContext, sections: string[], space: number): void {
  for (const s of sections) if (s) ctx.out.write(`${s}\n`);
  ctx.out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}

const withFilter = (filters: Filters, key: string, value: string): Filters => ({ ...filters, [key]: [...(filters[key] ?? []), value] });

function imagePrune(ctx: CliContext, filters: Filters, all: boolean): Promise<PruneReport> {
  return ctx.client().json<PruneReport>('POST', '/images/prune', { query: { filters: JSON.stringify(withFilter(filters, 'dangling', String(!all))) } });
}

interface BuildPruneReport {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}

interface BuildPruneOptions {
  all?: boolean;
  filters: Filters;
  reservedSpace?: number;
  maxUsedSpace?: number;
  minFreeSpace?: number;
}

function buildPrune(ctx: CliContext, o: BuildPruneOptions): Promise<BuildPruneReport> {
  const size = (n: number | undefined) => (n ? String(n) : undefined);
  return ctx.client().json<BuildPruneReport>('POST', '/build/prune', {
    query: {
      all: o.all ? '1' : undefined,
      filters: Object.keys(o.filters).length ? JSON.stringify(o.filters) : undefined,
      'keep-storage': size(o.reservedSpace),
      'reserved-space': size(o.reservedSpace),
      'max-used-space': size(o.maxUsedSpace),
      'min-free-space': size(o.minFreeSpace),
    },
  });
}

export function defineImagePrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune [OPTIONS]')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const question = o.all
        ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
        : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
      const filters = parseFilters(o.filter);
      if (!o.force && !(await confirm(ctx, question))) return;
      const report = await imagePrune(ctx, filters, !!o.all);
      writeReport(ctx, [section('Deleted Images:', imageLines(report.ImagesDeleted))], report.SpaceReclaimed);
    });
  return cmd;
}

const sizeOpt = (v: string) => {
  const n = fromHumanSize(v);
  if (!Number.isFinite(n)) throw new Error(`invalid size: '${v}'`);
  return n;
};

export function defineBuilderPrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune')
    .description('Remove build cache')
    .option('-a, --all', 'Remove all unused build cache, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=24h")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--keep-storage <bytes>', 'Amount of disk space to keep for cache', sizeOpt)
    .option('--reserved-space <bytes>', 'Amount of disk space always allowed to keep for cache', sizeOpt)
    .option('--max-used-space <bytes>', 'Maximum amount of disk space allowed to keep for cache', sizeOpt)
    .option('--min-free-space <bytes>', 'Target amount of free disk space after pruning', sizeOpt)
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean; keepStorage?: number; reservedSpace?: number; maxUsedSpace?: number; minFreeSpace?: number }) => {
      const filters = parseFilters(o.filter);
      const question = o.all
        ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
        : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
      if (!o.force && !(await confirm(ctx, question))) return;
      const report = await buildPrune(ctx, { all: o.all, filters, reservedSpace: o.reservedSpace ?? o.keepStorage, maxUsedSpace: o.maxUsedSpace, minFreeSpace: o.minFreeSpace });
      writeReport(ctx, [section('Deleted build cache objects:', report.CachesDeleted ?? [])], report.SpaceReclaimed);
    });
  return cmd;
}

/** The WARNING text of `system prune` (Docker's confirmation template). */
export function systemPruneWarning(o: { all?: boolean; volumes?: boolean; filter?: string[] }): string {
  const warnings = [
    'all stopped containers',
    'all networks not used by at least one container',
    ...(o.volumes ? ['all anonymous volumes not used by at least one container'] : []),
    o.all ? 'all images without at least one container associated to them' : 'all dangling images',
    o.all ? 'all build cache' : 'unused build cache',
  ];
  let text = `WARNING! This will remove:\n${warnings.map((w) => `  - ${w}\n`).join('')}`;
  if (o.filter?.length) text += `\n  Items to be pruned will be filtered with:\n${o.filter.map((f) => `  - ${f}\n`).join('')}`;
  return `${text}\nAre you sure you want to continue?`;
}

export function defineSystemPrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune [OPTIONS]')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean; volumes?: boolean }) => {
      const filters = parseFilters(o.filter);
      if (o.volumes && filters.until) throw new StatusError(1, 'ERROR: The "until" filter is not supported with "--volumes"');
      if (!o.force && !(await confirm(ctx, systemPruneWarning(o)))) return;
      const client = ctx.client();
      const sections: string[] = [];
      let space = 0;
      const containers = await client.containerPrune(filters);
      sections.push(section('Deleted Containers:', containers.ContainersDeleted ?? []));
      space += containers.SpaceReclaimed;
      const networks = await client.networkPrune(filters);
      sections.push(section('Deleted Networks:', networks.NetworksDeleted ?? []));
      if (o.volumes) {
        const volumes = await client.volumePrune(filters);
        sections.push(section('Deleted Volumes:', volumes.VolumesDeleted ?? []));
        space += volumes.SpaceReclaimed;
      }
      const images = await imagePrune(ctx, filters, !!o.all);
      sections.push(section('Deleted Images:', imageLines(images.ImagesDeleted)));
      space += images.SpaceReclaimed;
      const cache = await buildPrune(ctx, { all: o.all, filters });
      sections.push(section('Deleted build cache objects:', cache.CachesDeleted ?? []));
      space += cache.SpaceReclaimed;
      writeReport(ctx, sections, space);
    });
  return cmd;
}
