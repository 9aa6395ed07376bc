/** JSON progress streams (pull, import, load): one JSON message per line, as Docker's streamformatter writes. */
import type { ServerResponse } from 'node:http';
import { drain } from './request.js';
import { errorMessage } from './errors.js';
import type { ProgressMessage } from './types.js';

const NEWLINE = '\r\n';

export function formatError(err: unknown): string {
  const message = errorMessage(err);
  return JSON.stringify({ errorDetail: { message }, error: message }) + NEWLINE;
}

/**
 * Streams `messages` as the body of a 200 response. An error raised before the first message
 * is rethrown (the caller answers it with an HTTP status) when `errorStatusBeforeFirst`;
 * otherwise, and always after the first message, it becomes an in-stream error message.
 */
export async function writeProgressStream(
  res: ServerResponse,
  messages: AsyncIterable<ProgressMessage>,
  opts: { errorStatusBeforeFirst: boolean },
): Promise<void> {
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'Content-Type': 'application/json' });
  };
  if (!opts.errorStatusBeforeFirst) {
    start();
    res.flushHeaders();
  }
  try {
    for await (const msg of messages) {
      start();
      res.write(JSON.stringify(msg) + NEWLINE);
      await drain(res);
      if (res.destroyed) break;
    }
    start();
  } catch (err) {
    if (!started) throw err;
    if (!res.destroyed) res.write(formatError(err));
  }
  res.end();
}
