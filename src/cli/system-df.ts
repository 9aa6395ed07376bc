/** `system df [-v] [--format]`: Docker's disk usage tables from GET /system/df. */
import { Command } from 'commander';
import type { ContainerSummary, ImageSummary, Volume } from '../api/types.js';
import { familiarName, parseNormalizedNamed } from '../image/reference.js';
import { usage, type CliContext } from './cli-context.js';
import { CONTAINER_HEADERS, ContainerRow, IMAGE_HEADERS, ImageRow, renderRows } from './format/formatter.js';
import { Template, TemplateError, isTableFormat, templateSource, type TemplateStruct } from '../lib/go-template.js';
import { humanSize } from './format/units.js';
import { VolumeRow } from './volumes.js';
import type { DiskUsage } from '../api/types.js';

const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_RAW = 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';
const SUMMARY_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUME_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const VOLUME_HEADERS = { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' };
const BUILD_CACHE_TABLE = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';
const BUILD_CACHE_HEADERS = {
  ID: 'CACHE ID',
  CacheType: 'CACHE TYPE',
  Size: 'SIZE',
  CreatedSince: 'CREATED',
  LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE',
  Shared: 'SHARED',
};

/** `12.3MB (45%)` as Docker prints reclaimable space. */
function reclaimable(reclaim: number, total: number): string {
  return total > 0 ? `${humanSize(reclaim)} (${Math.trunc((reclaim * 100) / total)}%)` : humanSize(reclaim);
}

/** One line of the summary table (Docker's diskUsage*Context). */
export class SummaryRow implements TemplateStruct {
  constructor(
    private readonly type: string,
    private readonly total: number,
    private readonly active: number,
    private readonly size: number,
    private readonly reclaim: string,
  ) {}
  templateTypeName(): string {
    return '*formatter.diskUsageContext';
  }
  Type(): string {
    return this.type;
  }
  TotalCount(): string {
    return String(this.total);
  }
  Active(): string {
    return String(this.active);
  }
  Size(): string {
    return humanSize(this.size);
  }
  Reclaimable(): string {
    return this.reclaim;
  }
  toJSON(): Record<string, string> {
    return { Active: this.Active(), Reclaimable: this.Reclaimable(), Size: this.Size(), TotalCount: this.TotalCount(), Type: this.Type() };
  }
}

const ACTIVE_STATES = new Set(['running', 'paused', 'restarting']);

/** The four summary rows Docker prints, from a /system/df answer. */
export function summaryRows(du: DiskUsage): SummaryRow[] {
  const images = du.Images ?? [];
  const layers = du.LayersSize ?? 0;
  let used = 0;
  for (const i of images) if (i.Containers > 0 && i.Size !== -1 && i.SharedSize !== -1) used += i.Size - i.SharedSize;
  const containers = du.Containers ?? [];
  const cSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const cReclaim = containers.reduce((n, c) => n + (ACTIVE_STATES.has(c.State) ? 0 : (c.SizeRw ?? 0)), 0);
  const volumes = du.Volumes ?? [];
  let vSize = 0;
  let vReclaim = 0;
  for (const v of volumes) {
    const s = v.UsageData?.Size ?? -1;
    if (s === -1) continue;
    vSize += s;
    if ((v.UsageData?.RefCount ?? 0) === 0) vReclaim += s;
  }
  const cache = du.BuildCache ?? [];
  const cacheSize = cache.reduce((n, b) => n + (b.Shared ? 0 : b.Size), 0);
  const cacheInUse = cache.reduce((n, b) => n + (b.InUse && !b.Shared ? b.Size : 0), 0);
  return [
    new SummaryRow('Images', images.length, images.filter((i) => i.Containers > 0).length, layers, reclaimable(layers - used, layers)),
    new SummaryRow('Containers', containers.length, containers.filter((c) => ACTIVE_STATES.has(c.State)).length, cSize, reclaimable(cReclaim, cSize)),
    new SummaryRow('Local Volumes', volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, vSize, reclaimable(vReclaim, vSize)),
    new SummaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, cacheSize, humanSize(cacheSize - cacheInUse)),
  ];
}

/** Verbose image rows: one per image, named by its first tag. */
function imageUsageRows(images: ImageSummary[], trunc: boolean): ImageRow[] {
  return images.map((i) => {
    let repo = '<none>';
    let tag = '<none>';
    const first = i.RepoTags?.[0];
    if (first && first !== '<none>:<none>') {
      try {
        const ref = parseNormalizedNamed(first);
        if (ref.tag !== undefined) {
          repo = familiarName(ref);
          tag = ref.tag;
        }
      } catch {
        // shown as <none>
      }
    }
    return new ImageRow(i, repo, tag, '', trunc);
  });
}

function render(format: string, rows: unknown[], headers: Record<string, string>): string {
  try {
    return renderRows(format, rows, headers);
  } catch (err) {
    if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
    throw err;
  }
}

/** Docker's `system df` output for the given flags. */
export function renderDiskUsage(du: DiskUsage, opts: { verbose: boolean; format: string }): string {
  const format = opts.format || 'table';
  if (!opts.verbose) {
    const f = format === 'table' ? SUMMARY_TABLE : format === 'raw' ? SUMMARY_RAW : format;
    return render(f, summaryRows(du), SUMMARY_HEADERS);
  }
  const trunc = isTableFormat(format);
  const images = imageUsageRows(du.Images ?? [], trunc);
  // The virtual size is not shown.
  const containers = (du.Containers ?? []).map((c: ContainerSummary) => new ContainerRow({ ...c, SizeRootFs: 0 }, trunc));
  const volumes = (du.Volumes ?? []).map((v: Volume) => new VolumeRow(v));
  if (format !== 'table') {
    try {
      return new Template(templateSource(format)).execute({ Images: images, Containers: containers, Volumes: volumes, BuildCache: [] });
    } catch (err) {
      if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
      throw err;
    }
  }
  const cacheSize = (du.BuildCache ?? []).reduce((n, b) => n + (b.Shared ? 0 : b.Size), 0);
  return (
    'Images space usage:\n\n' +
    render(IMAGE_TABLE, images, IMAGE_HEADERS) +
    '\nContainers space usage:\n\n' +
    render(CONTAINER_TABLE, containers, CONTAINER_HEADERS) +
    '\nLocal Volumes space usage:\n\n' +
    render(VOLUME_TABLE, volumes, VOLUME_HEADERS) +
    `\nBuild cache usage: ${humanSize(cacheSize)}\n\n` +
    render(BUILD_CACHE_TABLE, [], BUILD_CACHE_HEADERS)
  );
}

/** Adds `df` to the `system` command group. */
export function defineSystemDf(system: Command, ctx: CliContext): Command {
  const cmd = new Command('df');
  system.addCommand(cmd);
  usage(cmd, 'df [OPTIONS]')
    .description('Show docker disk usage')
    .option('--format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (o: { format?: string; verbose?: boolean }) => {
      const du = await ctx.client().json<DiskUsage>('GET', '/system/df');
      ctx.out.write(renderDiskUsage(du, { verbose: !!o.verbose, format: o.format ?? '' }));
    });
  return cmd;
}
