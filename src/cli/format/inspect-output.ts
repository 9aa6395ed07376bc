/**
 * What every `inspect` command prints: a 4-space-indented JSON array (`[]` when nothing was
 * found), one compact JSON object a line with `--format json`, or a Go template per object.
 */
import { StatusError } from '../cli-context.js';
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
