/**
 * `--change` instructions of `docker import` (and commit): a subset of Dockerfile instructions
 * applied to an image config. Anything else is rejected with Docker's
 * `<INSTR> is not a valid change command`.
 */
import type { ContainerConfig, HealthConfig } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import { parseInstruction, type Instruction } from '../build/instructions.js';
import { parseDockerfile } from '../build/parser.js';
import { envMap, processWord } from '../build/shell-lex.js';
import { setEnv } from '../lib/env-list.js';

const VALID = new Set(['cmd', 'entrypoint', 'healthcheck', 'env', 'expose', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);

/** Joins continuation lines and drops blanks/comments, as the Dockerfile parser does. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (cur === '' && (/^\s*#/.test(line) || line.trim() === '')) continue;
    if (/\\\s*$/.test(line)) {
      cur += line.replace(/\\\s*$/, '');
      continue;
    }
    cur += line;
    out.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** A JSON array of strings, or null when `s` is not one (then it is shell form). */
function jsonArray(s: string): string[] | null {
  const t = s.trim();
  if (!t.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return null;
}

/** Splits words honouring single/double quotes and backslash escapes; quotes are removed. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c!)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw invalidParameter(`unexpected end of statement while looking for matching ${quote}`);
  if (inWord) words.push(cur);
  return words;
}

/** `k=v k2="v 2"` or the legacy `k v with spaces` form (ENV and LABEL). */
function keyValues(instr: string, rest: string): Array<[string, string]> {
  const words = splitWords(rest);
  if (words.length === 0) throw invalidParameter(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m) throw invalidParameter(`${instr} must have two arguments`);
    return [[m[1]!, splitWords(m[2]!).join(' ') || m[2]!.trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw invalidParameter(`${instr} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** One change read by the Dockerfile parser, as Docker's commit runs a change through its dispatcher. */
function parsedChange(line: string): Instruction | undefined {
  try {
    const node = parseDockerfile(line).nodes[0];
    return node && parseInstruction(node);
  } catch (err) {
    throw invalidParameter((err as Error).message);
  }
}

/**
 * An ENV change's pairs with `$VAR` expanded against the config's environment so far, as Docker
 * runs the change through its Dockerfile dispatcher (`ENV PATH=/x:$PATH` extends the image's PATH).
 */
function envChange(rest: string, env: readonly string[]): Array<[string, string]> {
  const inst = parsedChange(`ENV ${rest}`);
  if (inst?.kind !== 'env') throw invalidParameter('ENV requires at least one argument');
  const vars = envMap(env);
  return inst.env.map((kv) => [processWord(kv.key, vars), processWord(kv.value, vars)]);
}

/** A HEALTHCHECK change: the build's own parsing (its flags, durations, JSON or shell form, messages). */
function healthcheck(rest: string): HealthConfig {
  const inst = parsedChange(`HEALTHCHECK ${rest}`);
  if (inst?.kind !== 'healthcheck') throw invalidParameter('HEALTHCHECK requires at least one argument');
  return inst.health;
}

function expandPorts(spec: string): string[] {
  const [ports, proto = 'tcp'] = spec.split('/');
  const m = /^(\d+)(?:-(\d+))?$/.exec(ports!);
  if (!m) throw invalidParameter(`invalid containerPort: ${ports}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (end < start) throw invalidParameter(`invalid range specified for container port: ${ports}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto.toLowerCase()}`);
  return out;
}

/**
 * Applies `changes` (each element may hold several lines) to a copy of `base`.
 * Throws InvalidParameter with Docker's texts.
 */
export function applyChanges(changes: string[], base: ContainerConfig = {}): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(base);
  let cmdSet = false;
  for (const line of logicalLines(changes.join('\n'))) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line);
    if (!m) continue;
    const [, instr, rest] = m;
    const lower = instr!.toLowerCase();
    if (!VALID.has(lower)) throw invalidParameter(`${instr} is not a valid change command`);
    switch (lower) {
      case 'cmd': {
        cfg.Cmd = jsonArray(rest!) ?? ['/bin/sh', '-c', rest!.trim()];
        cmdSet = true;
        break;
      }
      case 'entrypoint': {
        const arr = jsonArray(rest!);
        cfg.Entrypoint = arr ?? (rest!.trim() === '' ? ['/bin/sh', '-c'] : ['/bin/sh', '-c', rest!.trim()]);
        // As in a Dockerfile: ENTRYPOINT resets a CMD inherited from before.
        if (!cmdSet) cfg.Cmd = null;
        break;
      }
      case 'env': {
        cfg.Env = setEnv(cfg.Env ?? [], envChange(rest!, cfg.Env ?? []));
        break;
      }
      case 'label': {
        const labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of keyValues('LABEL', rest!)) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case 'expose': {
        const words = splitWords(rest!);
        if (words.length === 0) throw invalidParameter('EXPOSE requires at least one argument');
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const w of words) for (const p of expandPorts(w)) ports[p] = {};
        cfg.ExposedPorts = ports;
        break;
      }
      case 'volume': {
        const vols = jsonArray(rest!) ?? splitWords(rest!);
        if (vols.length === 0) throw invalidParameter('VOLUME requires at least one argument');
        const set = { ...(cfg.Volumes ?? {}) };
        for (const v of vols) {
          if (!v.trim()) throw invalidParameter('VOLUME specified can not be an empty string');
          set[v.trim()] = {};
        }
        cfg.Volumes = set;
        break;
      }
      case 'workdir': {
        const dir = rest!.trim();
        if (!dir) throw invalidParameter('WORKDIR requires exactly one argument');
        cfg.WorkingDir = dir.startsWith('/') ? dir : `${(cfg.WorkingDir || '/').replace(/\/$/, '')}/${dir}`;
        break;
      }
      case 'user':
        if (!rest!.trim()) throw invalidParameter('USER requires exactly one argument');
        cfg.User = rest!.trim();
        break;
      case 'stopsignal':
        if (!rest!.trim()) throw invalidParameter('STOPSIGNAL requires exactly one argument');
        cfg.StopSignal = rest!.trim();
        break;
      case 'onbuild': {
        const trigger = rest!.trim();
        const t = trigger.split(/\s/)[0]?.toUpperCase();
        if (!t) throw invalidParameter('ONBUILD requires at least one argument');
        if (t === 'ONBUILD') throw invalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (t === 'FROM' || t === 'MAINTAINER') throw invalidParameter(`${t} isn't allowed as an ONBUILD trigger`);
        cfg.OnBuild = [...(cfg.OnBuild ?? []), trigger];
        break;
      }
      case 'healthcheck':
        cfg.Healthcheck = healthcheck(rest!);
        break;
    }
  }
  return cfg;
}
