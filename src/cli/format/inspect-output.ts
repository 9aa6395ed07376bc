/**
 * What every `inspect` command prints: a 4-space-indented JSON array (`[]` when nothing was
 * found), one compact JSON object a line with `--format json`, or a Go template per object.
 */
import { ApiError } from '../../client/api-error.js';
import { StatusError, describeError, type CliContext } from '../cli-context.js';
import { Template, TemplateError, templateSource } from './template.js';

export function inspectOutput(items: unknown[], format: string | undefined): string {
  if (format === 'json') return items.map((i) => `${JSON.stringify(i)}\n`).join('');
  if (format) {
    const tmpl = new Template(templateSource(format));
    let text = '';
    for (const item of items) {
      try {
        text += `${tmpl.execute(item)}\n`;
      } catch (err) {
        if (err instanceof TemplateError) throw new StatusError(1, `template parsing error: ${err.message}`);
        throw err;
      }
    }
    return text;
  }
  return items.length ? `${JSON.stringify(items, null, 4)}\n` : '[]\n';
}

/**
 * Inspects each reference in turn and prints what was found; the daemon's errors are printed
 * after it and make the command exit 1, as Docker's inspect commands do.
 */
export async function writeInspected<T>(ctx: CliContext, refs: string[], fetch: (ref: string) => Promise<T>, format: string | undefined): Promise<void> {
  const found: T[] = [];
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      found.push(await fetch(ref));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      errors.push(describeError(err));
    }
  }
  ctx.out.write(inspectOutput(found, format));
  if (errors.length) throw new StatusError(1, errors.join('\n'));
}
