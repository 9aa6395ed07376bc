/** `wharf events` (and `wharf system events`): the daemon's event stream, as the Docker CLI prints it. */
import { Command } from 'commander';
import { collectFilter, type CliContext, StatusError, parseFilters, usage } from './cli-context.js';
import { Template, TemplateError, templateSource } from '../lib/go-template.js';
import { getTimestamp } from './time-opts.js';
import type { EventMessage } from '../api/types.js';

/** An event and its exact timeNano (a JSON number too large for a double to hold exactly). */
export interface ReceivedEvent {
  message: EventMessage;
  timeNano: bigint;
}

/** Parses one line of the /events stream. */
export function parseEventLine(line: string): ReceivedEvent {
  const message = JSON.parse(line) as EventMessage;
  const raw = /"timeNano":(\d+)/.exec(line)?.[1];
  const timeNano = raw !== undefined ? BigInt(raw) : BigInt(message.time ?? 0) * 1_000_000_000n;
  return { message, timeNano };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Go's RFC3339NanoFixed in the local time zone (`2006-01-02T15:04:05.000000000Z07:00`). */
export function rfc3339NanoFixedLocal(timeNano: bigint): string {
  const ms = Number(timeNano / 1_000_000n);
  const nanos = timeNano % 1_000_000_000n;
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `.${nanos.toString().padStart(9, '0')}${zone}`
  );
}

/** The Docker CLI's default line: `<time> <type> <action> <id> (k=v, ...)`, attributes sorted by key. */
export function formatEventLine(ev: ReceivedEvent): string {
  const m = ev.message;
  let line = '';
  if (ev.timeNano !== 0n) line += `${rfc3339NanoFixedLocal(ev.timeNano)} `;
  else if (m.time) line += `${rfc3339NanoFixedLocal(BigInt(m.time) * 1_000_000_000n)} `;
  line += `${m.Type} ${m.Action} ${m.Actor?.ID ?? ''}`;
  const attrs = m.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) line += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return line + '\n';
}

/** The event as a template sees Go's events.Message: Go field names; `json` gives the wire form. */
export function eventTemplateData(ev: ReceivedEvent): Record<string, unknown> {
  const m = ev.message;
  const data: Record<string, unknown> = {
    Status: m.status ?? '',
    ID: m.id ?? '',
    From: m.from ?? '',
    Type: m.Type ?? '',
    Action: m.Action ?? '',
    Actor: { ID: m.Actor?.ID ?? '', Attributes: m.Actor?.Attributes ?? {} },
    Scope: m.scope ?? '',
    Time: m.time ?? 0,
    TimeNano: ev.timeNano,
  };
  Object.defineProperty(data, 'toJSON', { enumerable: false, value: () => ({ ...m, timeNano: Number(ev.timeNano) }) });
  return data;
}

/** Splits a byte stream into lines and hands each complete one to `onLine`. */
async function forEachLine(src: AsyncIterable<unknown>, onLine: (line: string) => void): Promise<void> {
  let buf = '';
  for await (const chunk of src) {
    buf += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  }
  if (buf.trim()) onLine(buf.trim());
}

/** `events` and `system events`. */
export function defineEvents(parent: Command, ctx: CliContext, name = 'events'): Command {
  const cmd = new Command(name)
    .description('Get real time events from the server')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collectFilter)
    .option('--format <string>', "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp')
    .action(async (opts: { filter?: string[]; format?: string; since?: string; until?: string }) => {
      let tmpl: Template | undefined;
      if (opts.format) {
        try {
          tmpl = new Template(templateSource(opts.format));
          tmpl.execute(eventTemplateData({ message: { Type: 'container', Action: '', Actor: { ID: '', Attributes: {} }, scope: 'local', time: 0, timeNano: 0 }, timeNano: 0n }));
        } catch (err) {
          throw new StatusError(1, `template parsing error: ${err instanceof Error ? err.message : err}`);
        }
      }
      const now = Date.now();
      let since: string | undefined;
      let until: string | undefined;
      try {
        if (opts.since) since = getTimestamp(opts.since, now);
        if (opts.until) until = getTimestamp(opts.until, now);
      } catch (err) {
        throw new StatusError(1, (err as Error).message);
      }
      const filters = parseFilters(opts.filter);
      const wire: Record<string, Record<string, boolean>> = {};
      for (const [k, vs] of Object.entries(filters)) wire[k] = Object.fromEntries(vs.map((v) => [v, true]));
      const res = await ctx.client().request('GET', '/events', {
        query: { since, until, filters: Object.keys(wire).length ? JSON.stringify(wire) : undefined },
      });
      await forEachLine(res, (line) => {
        const ev = parseEventLine(line);
        if (!tmpl) return void ctx.out.write(formatEventLine(ev));
        try {
          ctx.out.write(tmpl.execute(eventTemplateData(ev)) + '\n');
        } catch (err) {
          if (err instanceof TemplateError) throw new StatusError(1, err.message);
          throw err;
        }
      });
    });
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS]`);
  return cmd;
}
