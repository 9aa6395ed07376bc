/**
 * conmon's log reopen (the CRI's ReopenContainerLog, after kubelet rotated the file): message type
 * 2 on the container's ctl fifo makes conmon close its log file and open the path again. conmon
 * acts on it asynchronously; the call returns once the file is back at `logPath`, as kubelet
 * expects (it checks the new file right after the call).
 */
import { constants as fsConstants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, systemError } from '../lib/errors.js';
import { bundleLinkOf } from './conmon-io.js';

const REOPEN_WAIT_MS = 5000;
const REOPEN_POLL_MS = 10;

export async function reopenConmonLog(execRoot: string, id: string, logPath: string): Promise<void> {
  let fh;
  try {
    // Non-blocking: fails with ENXIO instead of hanging when conmon is gone.
    fh = await open(join(bundleLinkOf(execRoot, id), 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENXIO') throw conflict(`container ${id} is not running`);
    throw systemError(`reopening the log of ${id}: ${(err as Error).message}`);
  }
  try {
    await fh.write('2 0 0\n');
  } finally {
    await fh.close();
  }
  const deadline = Date.now() + REOPEN_WAIT_MS;
  while (!(await stat(logPath).then(() => true, () => false))) {
    if (Date.now() > deadline) throw systemError(`conmon did not reopen the log of ${id} at ${logPath}`);
    await new Promise((r) => setTimeout(r, REOPEN_POLL_MS));
  }
}
