/**
 * A container's LogConfig: which drivers exist here and what their options mean. Every driver
 * that keeps a readable log (json-file, local, k8s-file) is served by conmon's CRI log file;
 * `max-size` becomes conmon's --log-size-max (the file starts over when it would exceed it).
 */
import type { ContainerRecord } from '../container/container.js';
import { invalidParameter } from '../lib/errors.js';
import { compileGoRegexp, type GoRegexp } from '../lib/go-regexp.js';
import { logTag } from './log-tag.js';
import { parseGoBool } from '../lib/go-bool.js';

const READABLE_DRIVER_OPTS: Record<string, readonly string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-file', 'max-size', 'compress'],
  'k8s-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
};

/** Log drivers built into dockerd; the rest of the names are plugins. */
const DOCKER_BUILTIN_DRIVERS = new Set(['syslog', 'journald', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries']);

export interface LogConfigLike {
  Type?: string;
  Config?: Record<string, string> | null;
}

/** go-units' RAMInBytes (`base` 1024) or FromHumanSize (1000): a number with an optional unit (k, m, g, t, p; "kb", "KiB" too). */
export function parseRamSize(value: string, base = 1024): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(value);
  if (!m) throw invalidParameter(`invalid size: '${value}'`);
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * base ** power);
}

/**
 * The local driver's files (moby's daemon/logger/local): 20 MiB each, five of them, the rotated
 * ones compressed, unless its options say otherwise; a given max-size is in decimal units.
 */
const LOCAL_DEFAULTS = { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true };

/** What the local driver's options make, or its error in moby's words (see loggerStartError). */
function localConfig(opts: Record<string, string>): { maxSize: number; maxFile: number; compress: boolean } {
  const out = { ...LOCAL_DEFAULTS };
  const size = opts['max-size'];
  if (size !== undefined) {
    try {
      out.maxSize = parseRamSize(size, 1000);
    } catch (err) {
      throw invalidParameter(`invalid value for max-size: ${size}: ${(err as Error).message}`);
    }
  }
  const files = opts['max-file'];
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files)) throw invalidParameter(`invalid value for max-file: ${files}: strconv.Atoi: parsing ${JSON.stringify(files)}: invalid syntax`);
    out.maxFile = Number(files);
  }
  const compress = opts['compress'];
  if (compress !== undefined) {
    const b = parseGoBool(compress);
    if (b === undefined) throw invalidParameter(`error reading compress log option: strconv.ParseBool: parsing ${JSON.stringify(compress)}: invalid syntax`);
    out.compress = b;
  }
  if (out.maxFile < 0) throw invalidParameter('max file count cannot be less than 0');
  if (out.compress && out.maxFile <= 1) throw invalidParameter('compression cannot be enabled when max file count is 1');
  return out;
}

/** The local driver's files (see LOCAL_DEFAULTS); undefined for options its start refuses. */
export function localRotation(lc: LogConfigLike): { maxSize: number; maxFile: number; compress: boolean } | undefined {
  try {
    return localConfig(lc.Config ?? {});
  } catch {
    return undefined;
  }
}

/**
 * Throws Docker's errors for an unknown driver, an option the driver does not take, or (unless
 * `values` is false: a container's values are the logger's business when it starts, see
 * loggerStartError) a bad value.
 */
export function validateLogConfig(lc: LogConfigLike | undefined, { values = true }: { values?: boolean } = {}): void {
  const type = lc?.Type || 'json-file';
  const opts = lc?.Config ?? {};
  if (type === 'none') {
    for (const key of Object.keys(opts)) throw invalidParameter(`unknown log opt '${key}' for none log driver`);
    return;
  }
  const allowed = READABLE_DRIVER_OPTS[type];
  if (!allowed) {
    // Docker's own drivers that wharfd lacks are "not registered"; any other name is looked up
    // as a logging plugin, and there are none.
    if (DOCKER_BUILTIN_DRIVERS.has(type)) throw invalidParameter(`logger: no log driver named '${type}' is registered`);
    throw invalidParameter(`error looking up logging plugin ${type}: plugin ${JSON.stringify(type)} not found`);
  }
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) throw invalidParameter(`unknown log opt '${key}' for ${type} log driver`);
  }
  if (values) checkLogValues(type, opts);
}

function checkLogValues(type: string, opts: Record<string, string>): void {
  if (type === 'local') {
    localConfig(opts);
    return;
  }
  if (opts['max-size'] !== undefined && opts['max-size'] !== '-1') parseRamSize(opts['max-size']);
  if (opts['max-file'] !== undefined) {
    const n = Number(opts['max-file']);
    if (!Number.isInteger(n)) throw invalidParameter(`strconv.Atoi: parsing "${opts['max-file']}": invalid syntax`);
    if (n < 1) throw invalidParameter('max-file cannot be less than 1');
  }
}

/**
 * What the logger of a container finds wrong with its option values, its tag template among them,
 * when the container starts (Docker creates such a container and fails its start, exit code
 * 128, with these words).
 */
export function loggerStartError(rec: ContainerRecord): string | undefined {
  const lc = rec.HostConfig.LogConfig;
  if ((lc?.Type || 'json-file') === 'none') return undefined;
  try {
    checkLogValues(lc?.Type || 'json-file', lc?.Config ?? {});
    logTag(rec);
    return undefined;
  } catch (err) {
    return `failed to initialize logging driver: ${(err as Error).message}`;
  }
}

/**
 * The container's LogConfig with the daemon's defaults, as Docker merges them: an empty Type
 * takes the daemon's driver, and a container on the daemon's driver inherits the daemon's
 * options it does not set itself.
 */
export function withDaemonLogDefaults(lc: LogConfigLike | undefined, daemon: { Type: string; Config: Record<string, string> }): { Type: string; Config: Record<string, string> } {
  const type = lc?.Type || daemon.Type;
  const config = { ...(lc?.Config ?? {}) };
  if (type === daemon.Type) for (const [k, v] of Object.entries(daemon.Config)) if (!(k in config)) config[k] = v;
  return { Type: type, Config: config };
}

/** The log file's size limit in bytes, or undefined for unlimited (the local driver's default when it has none). */
export function logSizeMax(lc: LogConfigLike | undefined): number | undefined {
  if (lc?.Type === 'local') {
    const maxSize = localRotation(lc)?.maxSize ?? 0;
    return maxSize > 0 ? maxSize : undefined;
  }
  const v = lc?.Config?.['max-size'];
  if (v === undefined || v === '-1') return undefined;
  const n = parseRamSize(v);
  return n > 0 ? n : undefined;
}

/**
 * The attributes Docker's json-file driver attaches to every line (`docker logs --details`):
 * the container labels named by the `labels` option or matching `labels-regex`, the
 * environment variables named by `env` or matching `env-regex`, and the evaluated `tag`.
 */
export function logAttributes(lc: LogConfigLike | undefined, labels: Record<string, string> | null | undefined, env: string[] | null | undefined, tag = ''): Record<string, string> {
  const opts = lc?.Config ?? {};
  const out: Record<string, string> = {};
  const pick = (source: Record<string, string>, names: string | undefined, pattern: string | undefined) => {
    for (const name of names ? names.split(',') : []) if (Object.hasOwn(source, name)) out[name] = source[name]!;
    if (!pattern) return;
    let re: GoRegexp;
    try {
      re = compileGoRegexp(pattern);
    } catch {
      return;
    }
    for (const [k, v] of Object.entries(source)) if (re.test(k)) out[k] = v;
  };
  pick(labels ?? {}, opts.labels, opts['labels-regex']);
  const envMap: Record<string, string> = {};
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) envMap[e.slice(0, i)] = e.slice(i + 1);
  }
  pick(envMap, opts.env, opts['env-regex']);
  // moby's json-file adds the evaluated `tag` option when there is one.
  if (tag) out['tag'] = tag;
  return out;
}
