/**
 * What every `inspect` command prints: a 4-space-indented JSON array (`[]` when nothing was
 * found), one compact JSON object a line with `--format json`, or a Go template per object.
 */
import { ApiError } from '../../client/api-error.js';
import { StatusError, describeError, type CliContext } from '../cli-context.js';
import { Template, TemplateError, templateSource } from '../../lib/go-template.js';

/**
 * Docker's inspect output (cli/command/inspect): a template that does not parse is exit 64; an
 * item the template fails on (a missing key is an error: missingkey=error) is reported after the
 * others with exit 1, and an output left empty is a blank line.
 */
export function inspectOutput(items: unknown[], format: string | undefined): string {
  const { text, errors } = renderInspect(items, format);
  if (errors.length) throw new InspectTemplateError(text, errors);
  return text;
}

/** Output to print before failing with the template errors. */
export class InspectTemplateError extends StatusError {
  constructor(
    readonly text: string,
    errors: string[],
  ) {
    super(1, errors.join('\n'));
  }
}

function renderInspect(items: unknown[], format: string | undefined): { text: string; errors: string[] } {
  if (format === 'json') return { text: items.map((i) => `${JSON.stringify(i)}\n`).join(''), errors: [] };
  if (!format) return { text: items.length ? `${JSON.stringify(items, null, 4)}\n` : '[]\n', errors: [] };
  let tmpl: Template;
  try {
    tmpl = new Template(templateSource(format), { missingKey: 'error' });
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(64, `template parsing error: ${err.message}`);
    throw err;
  }
  let text = '';
  const errors: string[] = [];
  for (const item of items) {
    try {
      text += `${tmpl.execute(item)}\n`;
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      errors.push(`template parsing error: ${err.message}`);
    }
  }
  return { text, errors };
}

/** Writes what an inspect rendered, then throws its template errors (with the API's, when given). */
export function writeInspectOutput(ctx: CliContext, items: unknown[], format: string | undefined, apiErrors: string[] = []): void {
  let text: string;
  let errors = apiErrors;
  try {
    text = inspectOutput(items, format);
  } catch (err) {
    if (!(err instanceof InspectTemplateError)) throw err;
    text = err.text;
    errors = [...apiErrors, err.message];
  }
  // Docker's template inspector prints a blank line when it rendered nothing.
  if (!text && format && format !== 'json') text = '\n';
  ctx.out.write(text);
  if (errors.length) throw new StatusError(1, errors.join('\n'));
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
  writeInspectOutput(ctx, found, format, errors);
}
