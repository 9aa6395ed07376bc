/** What every command needs: the client, the binary name, output streams and exit statuses. */
import { InvalidArgumentError, type Command } from 'commander';
import { EngineClient } from '../client/engine-client.js';
import { resolveClientTls, type ClientTls, type TlsFlags } from '../client/host.js';
import { configDir } from './config-dir.js';

export const BIN = 'wharf';
export const CLI_VERSION = '0.1.0';

/** An error carrying an exit status (Docker's cli.StatusError); `message` may be empty. */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
  }
}

/** A usage error: Docker prints it with the command's usage and exits 125. */
export class FlagError extends Error {}

/** An int flag's value as Go's flag package parses it (undefined when not given). */
export function intOpt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

export interface CliContext {
  client(): EngineClient;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

let sharedClient: EngineClient | undefined;

/** The global connection flags: -H and the TLS ones. */
export interface ConnectionFlags extends TlsFlags {
  host?: string;
  /** A named context's TLS (context-store.ts resolveContextTls); null or absent: the default context, the flags decide. */
  contextTls?: ClientTls | null;
}

export function createContext(getFlags: () => ConnectionFlags): CliContext {
  return {
    client() {
      if (!sharedClient) {
        const flags = getFlags();
        // A named context brings its own TLS (or none); the default one takes the flags and DOCKER_TLS*.
        const named = 'contextTls' in flags && flags.contextTls !== null;
        const tls = named ? flags.contextTls : resolveClientTls(flags, process.env, configDir());
        sharedClient = new EngineClient({ host: flags.host, apiVersion: process.env.DOCKER_API_VERSION || undefined, ...(tls ? { tls } : {}) });
      }
      return sharedClient;
    },
    out: process.stdout,
    err: process.stderr,
  };
}

export function closeSharedClient(): void {
  sharedClient?.close();
}

/** Collects repeated `-f key=value` flags into a Filters map (Docker's filter opt). */
export function parseFilters(values: string[] | undefined): Record<string, string[]> {
  const f: Record<string, string[]> = {};
  for (const v of values ?? []) {
    if (v === '') continue;
    const eq = v.indexOf('=');
    if (eq < 0) throw new Error(FILTER_BAD_FORMAT);
    const k = v.slice(0, eq).trim().toLowerCase();
    (f[k] ??= []).push(v.slice(eq + 1).trim());
  }
  return f;
}

export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

const FILTER_BAD_FORMAT = 'bad format of filter (expected name=value)';

/** `--filter` values, checked as they are parsed (Docker's FilterOpt): a flag error, exit 125 with usage. */
export const collectFilter = (v: string, prev: string[] | undefined): string[] => {
  if (v !== '' && !v.includes('=')) throw new InvalidArgumentError(FILTER_BAD_FORMAT);
  return collect(v, prev);
};

/** Runs `fn` for each argument, printing errors as Docker does and failing at the end. */
export async function forEachArg(
  _ctx: CliContext,
  args: string[],
  fn: (arg: string) => Promise<void>,
): Promise<void> {
  const errors: string[] = [];
  for (const a of args) {
    try {
      await fn(a);
    } catch (err) {
      errors.push(describeError(err));
    }
  }
  if (errors.length) throw new StatusError(1, errors.join('\n'));
}

/** `Error response from daemon: …` for API errors, the plain message otherwise. */
export function describeError(err: unknown): string {
  if (err && typeof err === 'object' && (err as { name?: string }).name === 'ApiError') {
    return `Error response from daemon: ${(err as Error).message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Defines the command `name` on `parent` (adding it there) and returns it. Modules export these;
 * commands.ts says which one each command name loads. A define that serves one name ignores `name`.
 */
export type DefineCommand = (parent: Command, ctx: CliContext, name: string) => Command;

/** `run` and `create` (top level and under `container`): main rewrites their pflag-style booleans first. */
export const RUN_LIKE = new Set<Command>();

/** Docker-style usage lines (`run [OPTIONS] IMAGE [COMMAND] [ARG...]`) by command, for error messages. */
export const USAGES = new Map<Command, string>();

export function usage(cmd: Command, text: string): Command {
  USAGES.set(cmd, text);
  return cmd.usage(text.replace(/^\S+ ?/, ''));
}

/** Docker's y/N prompt; without a terminal on stdin the answer is no. */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  ctx.out.write(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    process.stdin.once('data', (d) => resolve(String(d)));
    process.stdin.once('end', () => resolve(''));
  });
  process.stdin.pause();
  return /^y(es)?$/i.test(answer.trim());
}

/** `key=value` list flags (--label, -o, --opt, --aux-address) into a map, as Docker's MapOpts; a bare key maps to ''. */
export function keyValues(values: string[] | undefined): Record<string, string> {
  const m: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq < 0) m[v] = '';
    else m[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return m;
}
