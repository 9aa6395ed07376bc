/** GET /events: Docker's event stream (newline-delimited JSON), with since/until and filters. */
import { invalidParameter } from '../../lib/errors.js';
import { parseFilters } from '../request.js';
import type { RequestContext, Router } from '../router.js';
import type { EventMessage } from '../types.js';
import type { EventsBackend } from '../backend.js';

/**
 * since/until as unix nanoseconds, in moby's one format: `seconds[.nanos]` (its
 * timestamp.ParseTimestamps). Durations and RFC3339 times are the CLI's to convert before it asks;
 * the daemon refuses them. Empty = not given.
 */
export function parseEventTime(raw: string | null, name: string): bigint | undefined {
  if (raw === null || raw === '') return undefined;
  const dot = raw.indexOf('.');
  const secText = dot < 0 ? raw : raw.slice(0, dot);
  const nanoText = dot < 0 ? '' : raw.slice(dot + 1);
  const bad = (part: string) => invalidParameter(`invalid value for "${name}": strconv.ParseInt: parsing ${JSON.stringify(part)}: invalid syntax`);
  if (!/^[+-]?\d+$/.test(secText)) throw bad(secText);
  const secs = BigInt(secText);
  if (nanoText === '') return secs * 1_000_000_000n;
  if (!/^[+-]?\d+$/.test(nanoText)) throw bad(nanoText);
  // moby scales the fraction to nanoseconds (digits past the ninth are dropped).
  const digits = nanoText.replace(/^[+-]/, '');
  const nanos = BigInt(digits.slice(0, 9).padEnd(9, '0')) * (nanoText.startsWith('-') ? -1n : 1n);
  return secs * 1_000_000_000n + (secs < 0n ? -nanos : nanos);
}

/**
 * One event as Docker's JSON encoder writes it: timeNano as its exact integer (JSON.stringify
 * would print the double's shortest form, which is another integer).
 */
export function encodeEvent(ev: EventMessage): string {
  const text = JSON.stringify({ ...ev, timeNano: 0 });
  return `${text.slice(0, -'0}'.length)}${BigInt(ev.timeNano).toString()}}\n`;
}

function backend(ctx: RequestContext): EventsBackend {
  return ctx.backend.events;
}

/** What a slow events client may have queued (about 1024 events). */
const EVENTS_BACKLOG_BYTES = 1024 * 1024;

async function getEvents(ctx: RequestContext): Promise<void> {
  const { query, res } = ctx;
  const sinceRaw = query.get('since');
  const untilRaw = query.get('until');
  const nowMs = Date.now();
  const sinceNs = parseEventTime(sinceRaw, 'since');
  const untilNs = parseEventTime(untilRaw, 'until');
  if (untilNs !== undefined && untilNs !== 0n && sinceNs !== undefined && untilNs < sinceNs) {
    throw invalidParameter(`\`since\` time (${sinceRaw}) cannot be after \`until\` time (${untilRaw})`);
  }
  const filters = parseFilters(query.get('filters'));
  const events = backend(ctx);

  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const nowNs = BigInt(nowMs) * 1_000_000n;
  const onlyPast = untilNs !== undefined && untilNs !== 0n && untilNs < nowNs;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const sub = events.events({ sinceNs, untilNs: untilNs === 0n ? undefined : untilNs, filters }, (ev) => {
    // A client that does not read misses events rather than growing the daemon, as Docker's
    // publisher drops them for a subscriber whose 1024-event queue stays full.
    if (!ended && res.writableLength < EVENTS_BACKLOG_BYTES) res.write(encodeEvent(ev));
  });
  const finish = () => {
    if (ended) return;
    ended = true;
    sub.close();
    if (timer) clearTimeout(timer);
    if (!res.destroyed) res.end();
  };
  for (const ev of sub.buffered) res.write(encodeEvent(ev));
  if (onlyPast) return finish();
  res.once('close', finish);
  if (untilNs !== undefined && untilNs !== 0n) {
    const delayMs = Number((untilNs - nowNs) / 1_000_000n) + 1;
    // Beyond setTimeout's range (about 24 days) the stream simply follows until the client leaves.
    if (delayMs < 2 ** 31 - 1) timer = setTimeout(finish, delayMs);
  }
  await new Promise<void>((resolve) => {
    if (ended) return resolve();
    res.once('close', resolve);
    res.once('finish', resolve);
  });
}

export function eventRoutes(router: Router): void {
  router.get('/events', getEvents);
}
