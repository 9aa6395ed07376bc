/** GET /containers/{id}/logs, and the follow control that attach's logs replay shares. */
import type { LogsOptions, LogsResult } from '../../api/backend.js';
import type { ContainerRecord } from '../../container/container.js';
import { readLogs } from '../../container/log-reader.js';
import { rotatedFiles, rotationOf } from '../log-rotation.js';
import { hasProcess } from '../../container/state.js';
import { invalidParameter } from '../../lib/errors.js';
import { logAttributes } from '../log-config.js';
import { logTag } from '../log-tag.js';
import type { ContainerCore } from './core.js';

/** What a log follower needs: whether the process still runs, and a one-shot call at its next exit. */
export function followControl(c: ContainerCore, rec: ContainerRecord) {
  return {
    isRunning: () => hasProcess(rec.State),
    onStop: (cb: () => void) => c.exits.once(rec.ID, () => cb()),
  };
}

/** The log tag for the attributes; a template that fails had failed the start, and adds none. */
function tagOf(rec: ContainerRecord): string {
  try {
    return logTag(rec);
  } catch {
    return '';
  }
}

export async function containerLogs(c: ContainerCore, ref: string, opts: LogsOptions): Promise<LogsResult> {
  const rec = c.get(ref);
  const logType = rec.HostConfig.LogConfig?.Type;
  if (logType === 'none') throw invalidParameter('configured logging driver does not support reading');
  const rot = rotationOf(rec);
  const res = await readLogs(rec.LogPath, opts, followControl(c, rec), rot ? await rotatedFiles(rec.LogPath, rot.maxFile) : []);
  return { ...res, tty: !!rec.Config.Tty, attributes: logAttributes(rec.HostConfig.LogConfig, rec.Config.Labels, rec.Config.Env, tagOf(rec)) };
}
