/**
 * conmon's log reopen (the CRI's ReopenContainerLog, after kubelet rotated the file): message type
 * 2 on the container's ctl fifo makes conmon close its log file and open the path again.
 */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, systemError } from '../lib/errors.js';

export async function reopenConmonLog(execRoot: string, id: string): Promise<void> {
  let fh;
  try {
    // Non-blocking: fails with ENXIO instead of hanging when conmon is gone.
    fh = await open(join(execRoot, 'sockets', id, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
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
}
