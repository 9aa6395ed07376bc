/** `search TERM`: the daemon's registry search as Docker's NAME DESCRIPTION STARS OFFICIAL table. */
import { Command } from 'commander';
import type { Reference } from '../image/reference.js';
import { collectFilter, BIN, StatusError, parseFilters, usage, type CliContext } from './cli-context.js';
import { registryAuthFor } from './docker-config.js';
import { renderRows } from './format/formatter.js';
import { TemplateError, type TemplateStruct } from '../lib/go-template.js';
import { ellipsis } from './format/units.js';

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated?: boolean;
}

export const SEARCH_HEADERS: Record<string, string> = {
  Name: 'NAME',
  Description: 'DESCRIPTION',
  StarCount: 'STARS',
  IsOfficial: 'OFFICIAL',
};

const DEFAULT_SEARCH_TABLE = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';

/** One search row (Docker's searchContext; CLI 28 has no IsAutomated). */
export class SearchRow implements TemplateStruct {
  constructor(
    private readonly s: SearchResult,
    private readonly trunc: boolean,
  ) {}

  templateTypeName(): string {
    return '*registry.searchContext';
  }

  Name(): string {
    return this.s.name;
  }

  Description(): string {
    const desc = (this.s.description ?? '').replace(/[\n\r]/g, ' ');
    return this.trunc ? ellipsis(desc, 45) : desc;
  }

  StarCount(): string {
    return String(this.s.star_count ?? 0);
  }

  IsOfficial(): string {
    return this.s.is_official ? '[OK]' : '';
  }

  toJSON(): Record<string, unknown> {
    return {
      Description: this.Description(),
      // Docker's JSON spells the flag as a boolean string, unlike the template field
      IsOfficial: String(!!this.s.is_official),
      Name: this.Name(),
      StarCount: this.StarCount(),
    };
  }
}

/** The registry a search term names (Docker's ParseSearchIndexInfo): a first part with `.`/`:` or localhost, else Docker Hub. */
export function searchIndex(term: string): string {
  const slash = term.indexOf('/');
  const first = slash < 0 ? '' : term.slice(0, slash);
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

export function defineSearch(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('search');
  parent.addCommand(cmd);
  usage(cmd, 'search [OPTIONS] TERM')
    .description('Search Docker Hub for images')
    .argument('<term>')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collectFilter)
    .option('--format <string>', 'Pretty-print search using a Go template')
    .option('--limit <int>', 'Max number of search results')
    .option('--no-trunc', "Don't truncate output")
    .action(async (term: string, o: { filter?: string[]; format?: string; limit?: string; trunc?: boolean }) => {
      if (o.limit !== undefined && !/^[-+]?\d+$/.test(o.limit)) {
        const what = `invalid argument "${o.limit}" for "--limit" flag: strconv.ParseInt: parsing "${o.limit}": invalid syntax`;
        throw new StatusError(125, `${what}\n\nUsage:  ${BIN} search [OPTIONS] TERM\n\nRun '${BIN} search --help' for more information`);
      }
      const limit = Number(o.limit ?? 0);
      const filters = parseFilters(o.filter);
      if (filters['is-automated']) {
        ctx.err.write('WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.\n');
      }
      const auth = await registryAuthFor({ domain: searchIndex(term) } as Reference);
      const results = await ctx.client().json<SearchResult[]>('GET', '/images/search', {
        query: {
          term,
          limit: limit ? String(limit) : undefined,
          filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined,
        },
        headers: { 'X-Registry-Auth': auth },
      });
      const format = !o.format || o.format === 'table' ? DEFAULT_SEARCH_TABLE : o.format;
      try {
        ctx.out.write(renderRows(format, results.map((r) => new SearchRow(r, o.trunc !== false)), SEARCH_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
    });
  return cmd;
}
