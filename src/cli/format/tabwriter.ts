/**
 * Elastic tabstops as Go's text/tabwriter does them (Docker's formatter uses
 * NewWriter(out, minwidth 10, tabwidth 1, padding 3, ' ', 0)): tab-terminated cells of
 * consecutive lines form a column whose width is the widest cell plus padding; the last
 * cell of a line is not part of any column; a line without tabs ends the block.
 */
import { displayWidth } from './units.js';

export interface TabwriterOptions {
  minwidth: number;
  padding: number;
  padchar: string;
}

export const DOCKER_TABWRITER: TabwriterOptions = { minwidth: 10, padding: 3, padchar: ' ' };

interface Line {
  cells: string[];
  newline: boolean;
}

export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const rawLines = text.split('\n');
  const out: string[] = [];
  let block: Line[] = [];
  rawLines.forEach((raw, i) => {
    const isLast = i === rawLines.length - 1;
    if (isLast && raw === '') return;
    const line: Line = { cells: raw.split('\t'), newline: !isLast };
    block.push(line);
    if (line.cells.length === 1) {
      out.push(formatBlock(block, opts));
      block = [];
    }
  });
  if (block.length) out.push(formatBlock(block, opts));
  return out.join('');
}

function formatBlock(lines: Line[], opts: TabwriterOptions): string {
  let result = '';
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const { cells, newline } = lines[i]!;
      cells.forEach((c, j) => {
        result += c;
        if (j < widths.length) result += opts.padchar.repeat(Math.max(0, widths[j]! - displayWidth(c)));
      });
      if (newline) result += '\n';
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur]!.cells.length - 1) continue;
      writeLines(line0, cur);
      line0 = cur;
      let width = opts.minwidth;
      for (; cur < line1; cur++) {
        const cells = lines[cur]!.cells;
        if (column >= cells.length - 1) break;
        const w = displayWidth(cells[column]!) + opts.padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return result;
}
