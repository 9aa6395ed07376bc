/**
 * Parsed Dockerfile nodes to typed instructions and stages, with Docker's messages for bad
 * arguments (BuildKit's frontend/dockerfile/instructions, which the classic builder uses).
 * Variable substitution happens later, at dispatch, with the stage's environment.
 */
import { parseGoDuration } from '../lib/go-duration.js';
import { DockerfileParseError, dockerfileNodes, drain, goQuote, type Heredoc, type Node } from './parser.js';

/**
 * Which Dockerfile syntax a build takes: Docker's classic builder's, or BuildKit's (a build through
 * BuildKit's API), which adds here-documents, `RUN --mount`/`--network` and `COPY --link`.
 */
export type Dialect = 'classic' | 'buildkit';

export interface KeyValue {
  key: string;
  value: string;
  /** Legacy `ENV key value` form. */
  noDelim: boolean;
}

export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** A command line in exec (JSON) or shell form. */
export interface CmdLine {
  args: string[];
  json: boolean;
}

export type Instruction =
  | { kind: 'env'; text: string; env: KeyValue[] }
  /** `literal`: a --label of the build request, taken without variable expansion. */
  | { kind: 'label'; text: string; labels: KeyValue[]; literal?: boolean }
  | { kind: 'maintainer'; text: string; maintainer: string }
  | {
      kind: 'run';
      text: string;
      cmd: CmdLine;
      /** `--mount` specs as written (expanded at dispatch). */
      mounts?: string[];
      /** `--network`: default, none or host. */
      network?: string;
      /** A here-document run as an executable file (it starts with `#!`), mounted under /dev/pipes. */
      script?: { name: string; content: string };
    }
  | { kind: 'cmd'; text: string; cmd: CmdLine }
  | { kind: 'entrypoint'; text: string; cmd: CmdLine }
  | { kind: 'shell'; text: string; shell: string[] }
  | { kind: 'expose'; text: string; ports: string[] }
  | { kind: 'user'; text: string; user: string }
  | { kind: 'workdir'; text: string; path: string }
  | { kind: 'volume'; text: string; volumes: string[] }
  | { kind: 'stopsignal'; text: string; signal: string }
  | { kind: 'arg'; text: string; args: Array<{ key: string; value?: string }> }
  | { kind: 'onbuild'; text: string; expression: string }
  | { kind: 'healthcheck'; text: string; health: HealthConfig }
  | {
      kind: 'copy' | 'add';
      text: string;
      sources: string[];
      dest: string;
      from?: string;
      chown?: string;
      chmod?: string;
      heredocs?: Heredoc[];
      checksum?: string;
      /** BuildKit: patterns left out below each source. */
      excludes?: string[];
      /** BuildKit's COPY --parents: each source's path kept below the destination. */
      parents?: boolean;
      /** BuildKit's ADD --unpack: whether an archive is unpacked (unset: local ones are, remote ones not). */
      unpack?: boolean;
      /** BuildKit's ADD --keep-git-dir: a git source keeps its .git directory. */
      keepGitDir?: boolean;
    };

export interface Stage {
  /** The FROM line as written. */
  text: string;
  baseName: string;
  /** Lowercased `AS name`, or ''. */
  name: string;
  platform: string;
  commands: Instruction[];
}

export interface Dockerfile {
  metaArgs: Array<Extract<Instruction, { kind: 'arg' }>>;
  stages: Stage[];
  escapeToken: string;
  warnings: string[];
}

const atLeastOne = (c: string) => new DockerfileParseError(`${c} requires at least one argument`);
const exactlyOne = (c: string) => new DockerfileParseError(`${c} requires exactly one argument`);
const atLeastTwo = (c: string) =>
  new DockerfileParseError(`${c} requires at least two arguments, but only one was provided. Destination could not be determined`);

/** Edit distance between `a` and `b` (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** BuildKit's suggestion for a mistyped flag: the nearest accepted name, fewer than 3 edits away. */
function suggestFlag(name: string, accepted: string[]): string {
  let best = '';
  let min = 3;
  for (const a of accepted) {
    const d = editDistance(name, a);
    if (d < min) [best, min] = [a, d];
  }
  return best ? ` (did you mean ${best}?)` : '';
}

/** BuildKit's BFlags (which Docker's classic builder uses too): `--name=value` for the flags an instruction accepts, in its words. */
function parseFlags(node: Node, allowed: Record<string, 'string' | 'bool' | 'multi'>, multi?: Map<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of node.flags) {
    const body = raw.replace(/^--/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const type = allowed[name];
    if (!type) {
      throw new DockerfileParseError(`unknown flag: --${name}${suggestFlag(name, Object.keys(allowed))}`);
    }
    if (type !== 'multi' && name in out) throw new DockerfileParseError(`duplicate flag specified: --${name}`);
    if (type === 'bool') {
      if (value === '') throw new DockerfileParseError(`missing a value on flag: --${name}`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new DockerfileParseError(`expecting boolean value for flag --${name}, not: ${value}`);
      out[name] = v;
      continue;
    }
    if (value === undefined) throw new DockerfileParseError(`missing a value on flag: --${name}`);
    if (type === 'multi') multi?.set(name, [...(multi.get(name) ?? []), value]);
    else out[name] = value;
  }
  return out;
}

function kvps(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw atLeastOne(cmd);
  const out: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new DockerfileParseError(`${cmd} names can not be blank`);
    out.push({ key: args[i]!, value: args[i + 1]!, noDelim: args[i + 2] === '' });
  }
  return out;
}

function healthcheck(node: Node): HealthConfig {
  const flags = parseFlags(node, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
  if (node.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const typ = node.args[0]!.toUpperCase();
  if (typ === 'NONE') {
    if (node.args.length > 1) throw new DockerfileParseError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (typ !== 'CMD') throw new DockerfileParseError(`Unknown type ${goQuote(node.args[0]!)} in HEALTHCHECK (try CMD)`);
  const cmd = node.args.slice(1);
  if (cmd.length === 0 || (cmd.length === 1 && cmd[0] === '')) throw new DockerfileParseError('Missing command after HEALTHCHECK CMD');
  const h: HealthConfig = { Test: node.json ? ['CMD', ...cmd] : ['CMD-SHELL', cmd[0]!] };
  const dur = (name: string): number | undefined => {
    const v = flags[name];
    if (v === undefined || v === '') return undefined;
    let d: number;
    try {
      d = parseGoDuration(v);
    } catch (err) {
      throw new DockerfileParseError((err as Error).message);
    }
    if (d !== 0 && d < 1e6) throw new DockerfileParseError(`Interval ${goQuote(name)} cannot be less than 1ms`);
    return d;
  };
  const interval = dur('interval');
  const timeout = dur('timeout');
  const startPeriod = dur('start-period');
  const startInterval = dur('start-interval');
  if (interval !== undefined) h.Interval = interval;
  if (timeout !== undefined) h.Timeout = timeout;
  if (startPeriod !== undefined) h.StartPeriod = startPeriod;
  if (startInterval !== undefined) h.StartInterval = startInterval;
  if (flags.retries !== undefined && flags.retries !== '') {
    if (!/^-?\d+$/.test(flags.retries)) throw new DockerfileParseError(`strconv.ParseInt: parsing ${goQuote(flags.retries)}: invalid syntax`);
    const r = Number(flags.retries);
    if (r < 0) throw new DockerfileParseError(`--retries cannot be negative (${r})`);
    h.Retries = r;
  } else h.Retries = 0;
  return h;
}

/**
 * The classic builder's refusal of a flag only BuildKit builds. Docker 28's classic builder parses
 * them as BuildKit does and refuses them when the step is dispatched, after the steps before it ran.
 */
export const requiresBuildkit = (flag: string) =>
  `the --${flag} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`;

/**
 * RUN: mounts, network, and in BuildKit's dialect a here-document as the command (BuildKit's
 * dispatchRun). The classic dialect parses `--mount` and `--network` as Docker 28's does (its
 * builder refuses them when the step runs) and, like it, knows no `--security`.
 */
function runInstruction(node: Node, text: string, dialect: Dialect): Instruction {
  const multi = new Map<string, string[]>();
  const flags = parseFlags(node, dialect === 'buildkit' ? { mount: 'multi', network: 'string', security: 'string' } : { mount: 'multi', network: 'string' }, multi);
  if (flags.security !== undefined && flags.security !== 'sandbox') throw new DockerfileParseError(`security mode ${JSON.stringify(flags.security)} is not allowed by this builder`);
  const network = flags.network;
  if (network !== undefined && !['default', 'none', 'host'].includes(network)) throw new DockerfileParseError(`unsupported network mode "${network}"`);
  const extra = { ...(multi.get('mount') ? { mounts: multi.get('mount')! } : {}), ...(network !== undefined ? { network } : {}) };
  const docs = node.heredocs ?? [];
  if (docs.length === 0 || node.json) return { kind: 'run', text, cmd: { args: node.args, json: node.json }, ...extra };
  const line = (node.args[0] ?? '').trim();
  const only = /^\d*<<-?(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1$/.exec(line);
  if (only && docs.length === 1) {
    const doc = docs[0]!;
    if (doc.content.startsWith('#!')) return { kind: 'run', text, cmd: { args: [`/dev/pipes/${doc.name}`], json: true }, script: { name: doc.name, content: doc.content }, ...extra };
    return { kind: 'run', text, cmd: { args: [doc.content], json: false }, ...extra };
  }
  // Anything else is handed to the shell as written, with the bodies after the line.
  let full = node.args[0] ?? '';
  for (const d of docs) full += `\n${d.content}${d.name}`;
  return { kind: 'run', text, cmd: { args: [full], json: false }, ...extra };
}

/** One node to an instruction; FROM is handled by the caller. */
export function parseInstruction(node: Node, dialect: Dialect = 'classic'): Instruction {
  const text = node.original;
  const noFlags = () => parseFlags(node, {});
  switch (node.cmd) {
    case 'env':
      noFlags();
      return { kind: 'env', text, env: kvps(node.args, 'ENV') };
    case 'label':
      noFlags();
      return { kind: 'label', text, labels: kvps(node.args, 'LABEL') };
    case 'maintainer':
      noFlags();
      if (node.args.length !== 1) throw exactlyOne('MAINTAINER');
      return { kind: 'maintainer', text, maintainer: node.args[0]! };
    case 'run':
      return runInstruction(node, text, dialect);
    case 'cmd':
    case 'entrypoint': {
      noFlags();
      return { kind: node.cmd, text, cmd: { args: node.args, json: node.json } };
    }
    case 'shell':
      noFlags();
      if (node.args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) throw new DockerfileParseError('SHELL requires the arguments to be in JSON form');
      return { kind: 'shell', text, shell: node.args };
    case 'expose':
      noFlags();
      if (node.args.length === 0) throw atLeastOne('EXPOSE');
      // Sorted as Docker's parser sorts them: the order never changes the step's cache key.
      return { kind: 'expose', text, ports: [...node.args].sort() };
    case 'user':
      noFlags();
      if (node.args.length !== 1) throw exactlyOne('USER');
      return { kind: 'user', text, user: node.args[0]! };
    case 'workdir':
      noFlags();
      if (node.args.length !== 1) throw exactlyOne('WORKDIR');
      return { kind: 'workdir', text, path: node.args[0]! };
    case 'volume': {
      noFlags();
      if (node.args.length === 0) throw atLeastOne('VOLUME');
      for (const v of node.args) if (v.trim() === '') throw new DockerfileParseError('VOLUME specified can not be an empty string');
      return { kind: 'volume', text, volumes: node.args };
    }
    case 'stopsignal':
      noFlags();
      if (node.args.length !== 1) throw exactlyOne('STOPSIGNAL');
      return { kind: 'stopsignal', text, signal: node.args[0]! };
    case 'arg': {
      noFlags();
      if (node.args.length === 0) throw atLeastOne('ARG');
      return {
        kind: 'arg',
        text,
        args: node.args.map((w) => {
          const i = w.indexOf('=');
          if (i === 0) throw new DockerfileParseError('ARG names can not be blank');
          return i < 0 ? { key: w } : { key: w.slice(0, i), value: w.slice(i + 1) };
        }),
      };
    }
    case 'onbuild': {
      noFlags();
      if (node.args.length === 0 || !node.sub) throw atLeastOne('ONBUILD');
      const trigger = node.sub.word.toUpperCase();
      if (trigger === 'ONBUILD') throw new DockerfileParseError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new DockerfileParseError(`${trigger} isn't allowed as an ONBUILD trigger`);
      parseInstruction(node.sub);
      return { kind: 'onbuild', text, expression: text.replace(/^\s*ONBUILD\s*/i, '') };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', text, health: healthcheck(node) };
    case 'copy':
    case 'add': {
      const multi = new Map<string, string[]>();
      // Docker 28's classic builder parses --link, and ADD's --checksum and --keep-git-dir, and
      // ignores them; --exclude, --parents and --unpack are unknown to it (BuildKit's labs flags
      // when its parser was vendored). --link only changes how BuildKit stores the layer.
      const common = { chown: 'string', chmod: 'string', link: 'bool' } as const;
      const bk = dialect === 'buildkit';
      const allowed =
        node.cmd === 'copy'
          ? { ...common, from: 'string', ...(bk ? { exclude: 'multi', parents: 'bool' } : {}) }
          : { ...common, checksum: 'string', 'keep-git-dir': 'bool', ...(bk ? { exclude: 'multi', unpack: 'bool' } : {}) };
      const flags = parseFlags(node, allowed as Record<string, 'string' | 'bool' | 'multi'>, multi);
      const cmdName = node.cmd.toUpperCase();
      if (node.args.length < 2) throw atLeastTwo(cmdName);
      const docs = node.heredocs ?? [];
      const isMarker = (a: string) => /^\d*<<-?(["']?)[A-Za-z_][A-Za-z0-9_.-]*\1$/.test(a);
      return {
        kind: node.cmd,
        text,
        sources: node.args.slice(0, -1).filter((a) => docs.length === 0 || !isMarker(a)),
        dest: node.args[node.args.length - 1]!,
        ...(docs.length ? { heredocs: docs } : {}),
        ...(flags.from !== undefined ? { from: flags.from } : {}),
        ...(flags.chown ? { chown: flags.chown } : {}),
        ...(flags.chmod ? { chmod: flags.chmod } : {}),
        ...(bk && flags.checksum ? { checksum: flags.checksum } : {}),
        ...(multi.has('exclude') ? { excludes: multi.get('exclude')! } : {}),
        ...(flags.parents === 'true' ? { parents: true } : {}),
        ...(flags.unpack !== undefined ? { unpack: flags.unpack === 'true' } : {}),
        ...(bk && flags['keep-git-dir'] !== undefined ? { keepGitDir: flags['keep-git-dir'] === 'true' } : {}),
      };
    }
    default:
      throw new DockerfileParseError(`unknown instruction: ${node.word}`);
  }
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function parseFrom(node: Node): Stage {
  const flags = parseFlags(node, { platform: 'string' });
  const args = node.args;
  let name = '';
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    name = args[2]!.toLowerCase();
    if (!STAGE_NAME.test(name)) throw new DockerfileParseError(`invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`);
  } else if (args.length !== 1) {
    throw new DockerfileParseError('FROM requires either one or three arguments');
  }
  return { text: node.original, baseName: args[0]!, name, platform: flags.platform ?? '', commands: [] };
}

/** Parses a whole Dockerfile into meta ARGs and stages. Throws DockerfileParseError with Docker's text. */
export function parseStages(text: string, dialect: Dialect = 'classic'): Dockerfile {
  return drain(stagesOf(text, dialect));
}

/** parseStages, pausing after each instruction (see dockerfileNodes). */
export function* stagesOf(text: string, dialect: Dialect = 'classic'): Generator<void, Dockerfile> {
  const parsed = yield* dockerfileNodes(text, { heredocs: dialect === 'buildkit' });
  const metaArgs: Dockerfile['metaArgs'] = [];
  const stages: Stage[] = [];
  for (const node of parsed.nodes) {
    yield;
    try {
      if (node.cmd === 'from') {
        stages.push(parseFrom(node));
        continue;
      }
      const inst = parseInstruction(node, dialect);
      if (stages.length === 0) {
        if (inst.kind === 'arg') {
          metaArgs.push(inst);
          continue;
        }
        throw new DockerfileParseError('no build stage in current context');
      }
      stages[stages.length - 1]!.commands.push(inst);
    } catch (err) {
      if (err instanceof DockerfileParseError && !err.message.startsWith('dockerfile parse error')) {
        throw new DockerfileParseError(`dockerfile parse error on line ${node.startLine}: ${err.message}`);
      }
      throw err;
    }
  }
  return { metaArgs, stages, escapeToken: parsed.escapeToken, warnings: parsed.warnings };
}

/** The index of the stage named `target` (case-insensitive), or -1. */
export function stageIndex(stages: Stage[], target: string): number {
  const t = target.toLowerCase();
  return stages.findIndex((s) => s.name === t);
}
