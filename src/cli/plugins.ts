/** `plugin ls` and `plugin inspect` over the daemon's /plugins routes. */
import { Command } from 'commander';
import { collectFilter, parseFilters, usage, type CliContext } from './cli-context.js';
import { renderRows } from './format/formatter.js';
import { writeInspected } from './format/inspect-output.js';
import { TemplateError, type TemplateStruct } from '../lib/go-template.js';
import { ellipsis, truncateId } from './format/units.js';

interface Plugin {
  Id: string;
  Name: string;
  Enabled: boolean;
  Config?: { Description?: string };
  PluginReference?: string;
}

const PLUGIN_HEADERS: Record<string, string> = {
  ID: 'ID',
  Name: 'NAME',
  Description: 'DESCRIPTION',
  Enabled: 'ENABLED',
  PluginReference: 'PLUGIN REFERENCE',
};

const DEFAULT_PLUGIN_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Description}}\t{{.Enabled}}';

/** One plugin row (Docker's pluginContext). */
class PluginRow implements TemplateStruct {
  constructor(
    private readonly p: Plugin,
    private readonly trunc: boolean,
  ) {}

  templateTypeName(): string {
    return '*formatter.pluginContext';
  }

  ID(): string {
    return this.trunc ? truncateId(this.p.Id) : this.p.Id;
  }

  Name(): string {
    return this.p.Name;
  }

  Description(): string {
    const desc = (this.p.Config?.Description ?? '').replace(/[\n\r]/g, ' ');
    return this.trunc ? ellipsis(desc, 45) : desc;
  }

  Enabled(): boolean {
    return this.p.Enabled;
  }

  PluginReference(): string {
    return this.p.PluginReference ?? '';
  }

  toJSON(): Record<string, unknown> {
    return { Description: this.Description(), Enabled: this.Enabled(), ID: this.ID(), Name: this.Name(), PluginReference: this.PluginReference() };
  }
}

export function definePluginLs(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS]`)
    .description('List plugins')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "enabled=true")', collectFilter)
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display plugin IDs')
    .action(async (o: { filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean }) => {
      const filters = parseFilters(o.filter);
      const plugins = await ctx.client().json<Plugin[]>('GET', '/plugins', {
        query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined },
      });
      let format = o.format || 'table';
      if (format === 'table') format = o.quiet ? '{{.ID}}' : DEFAULT_PLUGIN_TABLE;
      try {
        ctx.out.write(renderRows(format, plugins.map((p) => new PluginRow(p, o.trunc !== false)), PLUGIN_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
    });
  return cmd;
}

export function definePluginInspect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('inspect');
  parent.addCommand(cmd);
  usage(cmd, 'inspect [OPTIONS] PLUGIN [PLUGIN...]')
    .description('Display detailed information on one or more plugins')
    .argument('<plugins...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], o: { format?: string }) => {
      await writeInspected(ctx, names, (n) => ctx.client().json<Plugin>('GET', `/plugins/${encodeURIComponent(n)}/json`), o.format);
    });
  return cmd;
}
