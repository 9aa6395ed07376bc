/** Renders a JSON progress stream as Docker's jsonmessage.DisplayJSONMessagesStream does. */
import type { ProgressMessage } from '../api/types.js';

export class ProgressStreamError extends Error {}

export async function displayProgress(
  messages: AsyncIterable<ProgressMessage>,
  out: NodeJS.WritableStream & { isTTY?: boolean },
  opts: { onAux?: (aux: unknown) => void } = {},
): Promise<void> {
  const tty = out.isTTY === true;
  let ids = new Map<string, number>();
  for await (const jm of messages) {
    if (jm.error || jm.errorDetail) throw new ProgressStreamError(jm.errorDetail?.message ?? jm.error ?? 'unknown error');
    if (jm.aux !== undefined) {
      opts.onAux?.(jm.aux);
      continue;
    }
    const isProgress = jm.progressDetail !== undefined && Object.keys(jm.progressDetail).length > 0 || !!jm.progress;
    let diff = 0;
    if (jm.id && isProgress) {
      let line = ids.get(jm.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(jm.id, line);
        if (tty) out.write('\n');
      }
      diff = ids.size - line;
      if (tty) out.write(`\x1b[${diff}A`);
    } else {
      ids = new Map();
    }
    if (isProgress && !tty) continue;
    let text = '';
    if (tty) text += '\x1b[2K\r';
    if (jm.id) text += `${jm.id}: `;
    if (isProgress && tty) text += `${jm.status ?? ''} ${jm.progress ?? ''}`;
    else if (jm.stream !== undefined) text += jm.stream;
    else text += `${jm.status ?? ''}\n`;
    if (tty && jm.id && isProgress) text += `\x1b[${diff}B`;
    out.write(text);
  }
}
