/**
 * Which context a command uses (Docker's resolveContextName): --context, then --host / DOCKER_HOST
 * (the `default` context), then DOCKER_CONTEXT, then config.json's currentContext. Apart from
 * context-store.ts so that a command on the default context never loads the store (and crypto).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatusError } from './cli-context.js';
import { configDir } from './config-dir.js';

export const DEFAULT_CONTEXT = 'default';

function readConfigSync(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(configDir(), 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

/** config.json's currentContext ('' when unset). */
export function storedCurrentContext(): string {
  const c = readConfigSync().currentContext;
  return typeof c === 'string' ? c : '';
}

const envHost = () => process.env.WHARF_HOST || process.env.DOCKER_HOST;

/** The context a command uses (Docker's resolveContextName). */
export function resolveContextName(flags: { context?: string; host?: string }): string {
  if (flags.context && flags.host) throw new StatusError(1, 'conflicting options: cannot specify both --host and --context');
  if (flags.context) return flags.context;
  if (flags.host || envHost()) return DEFAULT_CONTEXT;
  return process.env.DOCKER_CONTEXT || storedCurrentContext() || DEFAULT_CONTEXT;
}
