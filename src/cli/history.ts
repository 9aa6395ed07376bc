/** `history` / `image history`: an image's layers as Docker's history table. */
import { Command } from 'commander';
import type { ImageHistoryItem } from '../api/types.js';
import { BIN, StatusError, usage, type CliContext } from './cli-context.js';
import { renderRows } from './format/formatter.js';
import { TemplateError, type TemplateStruct } from '../lib/go-template.js';
import { ellipsis, humanDuration, humanSizeWithPrecision, truncateId } from './format/units.js';
import { parseGoBool } from '../lib/go-bool.js';

/** One entry of GET /images/{name}/history. */
export type HistoryItem = ImageHistoryItem;

export const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  CreatedBy: 'CREATED BY',
  Comment: 'COMMENT',
};

const HUMAN_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const NON_HUMAN_TABLE = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** RFC 3339 in local time with a numeric offset (or Z), as Go's time.Format(time.RFC3339). */
export function rfc3339Local(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(off / 60)}:${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

/** One history row (Docker's historyContext). */
export class HistoryRow implements TemplateStruct {
  constructor(
    private readonly h: HistoryItem,
    private readonly human: boolean,
    private readonly trunc: boolean,
    private readonly now: number = Date.now(),
  ) {}

  templateTypeName(): string {
    return '*image.historyContext';
  }

  ID(): string {
    return this.trunc ? truncateId(this.h.Id) : this.h.Id;
  }

  CreatedAt(): string {
    return rfc3339Local(this.h.Created);
  }

  CreatedSince(): string {
    if (!this.human) return this.CreatedAt();
    return `${humanDuration(this.now - this.h.Created * 1000)} ago`;
  }

  CreatedBy(): string {
    const by = this.h.CreatedBy.replaceAll('\t', ' ');
    return this.trunc ? ellipsis(by, 45) : by;
  }

  Size(): string {
    return this.human ? humanSizeWithPrecision(this.h.Size, 3) : String(this.h.Size);
  }

  Comment(): string {
    return this.h.Comment;
  }

  toJSON(): Record<string, unknown> {
    return {
      Comment: this.Comment(),
      CreatedAt: this.CreatedAt(),
      CreatedBy: this.CreatedBy(),
      CreatedSince: this.CreatedSince(),
      ID: this.ID(),
      Size: this.Size(),
    };
  }
}

/** The template a --format value (and -q, -H) stands for, as Docker's NewHistoryFormat. */
export function historyFormat(format: string | undefined, quiet: boolean, human: boolean): string {
  const f = format || 'table';
  if (f !== 'table') return f;
  if (quiet) return '{{.ID}}';
  return human ? HUMAN_TABLE : NON_HUMAN_TABLE;
}

export function defineHistory(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('history');
  parent.addCommand(cmd);
  usage(cmd, 'history [OPTIONS] IMAGE')
    .description('Show the history of an image')
    .argument('[image]')
    .allowExcessArguments()
    .option('--format <string>', 'Format output using a custom template')
    // An optional value so that pflag's `--human=false` works; `-H IMAGE` is untangled below.
    .option('-H, --human [bool]', 'Print sizes and dates in human readable format (default true)')
    .option('--no-trunc', "Don't truncate output")
    .option('--platform <string>', 'Show history for the given platform')
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (_image: string | undefined, o: { format?: string; human?: boolean | string; trunc?: boolean; platform?: string; quiet?: boolean }) => {
      const args = [...cmd.args];
      let human = true;
      if (typeof o.human === 'string') {
        const b = parseGoBool(o.human.replace(/^=/, ''));
        if (b === undefined) args.unshift(o.human);
        else human = b;
      }
      if (args.length !== 1) {
        throw new StatusError(1, `${BIN}: '${BIN} ${commandPathOf(cmd)}' requires 1 argument\n\nUsage:  ${BIN} ${commandPathOf(cmd)} [OPTIONS] IMAGE\n\nRun '${BIN} ${commandPathOf(cmd)} --help' for more information`);
      }
      const image = args[0];
      const query: Record<string, string | undefined> = {};
      if (o.platform) query.platform = JSON.stringify(platformObject(o.platform));
      const items = await ctx.client().json<HistoryItem[]>('GET', `/images/${encodeURIComponent(image!)}/history`, { query });
      const rows = items.map((h) => new HistoryRow(h, human, o.trunc !== false));
      try {
        ctx.out.write(renderRows(historyFormat(o.format, !!o.quiet, human), rows, HISTORY_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
    });
  return cmd;
}

function platformObject(p: string): { os: string; architecture?: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  return { os: os!, architecture, variant };
}

/** `image history` or `history`: the command's words below the program. */
function commandPathOf(cmd: Command): string {
  const words: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(' ');
}
