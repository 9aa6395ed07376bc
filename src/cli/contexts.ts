/** `context ls|inspect|use|show|create|rm` over Docker's context store (context-store.ts). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { collect, StatusError, usage, type CliContext } from './cli-context.js';
import {
  ContextNotFound,
  contextExists,
  listContexts,
  metaDir,
  readContext,
  removeContext,
  tlsDir,
  tlsMaterial,
  readContextTls,
  writeContextTls,
  validateName,
  writeContext,
  type ContextMeta,
} from './context-store.js';
import { DEFAULT_CONTEXT, resolveContextName, storedCurrentContext } from './context-name.js';
import { loadConfig, saveConfig } from './docker-config.js';
import { renderRows } from './format/formatter.js';
import { writeInspectOutput } from './format/inspect-output.js';
import { TemplateError, type TemplateStruct } from '../lib/go-template.js';

const CONTEXT_HEADERS: Record<string, string> = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' };
const DEFAULT_CONTEXT_TABLE = 'table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}';

class ContextRow implements TemplateStruct {
  constructor(
    private readonly c: ContextMeta,
    private readonly current: boolean,
  ) {}

  templateTypeName(): string {
    return '*formatter.clientContextContext';
  }

  Name(): string {
    return this.c.Name;
  }

  Current(): boolean {
    return this.current;
  }

  Description(): string {
    return String(this.c.Metadata?.Description ?? '');
  }

  DockerEndpoint(): string {
    return this.c.Endpoints?.docker?.Host ?? '';
  }

  Error(): string {
    return '';
  }

  toJSON(): Record<string, unknown> {
    return { Current: this.current, Description: this.Description(), DockerEndpoint: this.DockerEndpoint(), Error: '', Name: this.Name() };
  }
}

/** The --host flag of the program a command hangs under. */
function globalOpts(cmd: Command): { host?: string; context?: string } {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root.opts();
}

const hostWarning =
  'Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.\n';

export function defineContextLs(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS]`)
    .description('List contexts')
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only show context names')
    .action((o: { format?: string; quiet?: boolean }) => {
      const flags = globalOpts(cmd);
      const current = resolveContextName(flags);
      const rows = listContexts(flags.host).map((c) => new ContextRow(c, c.Name === current));
      const format = o.quiet ? '{{.Name}}' : !o.format || o.format === 'table' ? DEFAULT_CONTEXT_TABLE : o.format;
      try {
        ctx.out.write(renderRows(format, rows, CONTEXT_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
      if (process.env.DOCKER_HOST && !flags.context && storedCurrentContext() && storedCurrentContext() !== DEFAULT_CONTEXT) ctx.err.write(hostWarning);
    });
  return cmd;
}

export function defineContextShow(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('show');
  parent.addCommand(cmd);
  usage(cmd, 'show')
    .description('Print the name of the current context')
    .action(() => {
      ctx.out.write(`${resolveContextName(globalOpts(cmd))}\n`);
    });
  return cmd;
}

export function defineContextInspect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('inspect');
  parent.addCommand(cmd);
  usage(cmd, 'inspect [OPTIONS] [CONTEXT] [CONTEXT...]')
    .description('Display detailed information on one or more contexts')
    .argument('[contexts...]')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action((names: string[], o: { format?: string }) => {
      const flags = globalOpts(cmd);
      if (names.length === 0) names = [resolveContextName(flags)];
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        let meta: ContextMeta;
        try {
          meta = readContext(n, flags.host);
        } catch (err) {
          if (!(err instanceof ContextNotFound)) throw err;
          errors.push(err.message);
          continue;
        }
        found.push({
          ...meta,
          TLSMaterial: tlsMaterial(n),
          Storage: n === DEFAULT_CONTEXT ? { MetadataPath: '<IN MEMORY>', TLSPath: '<IN MEMORY>' } : { MetadataPath: metaDir(n), TLSPath: tlsDir(n) },
        });
      }
      writeInspectOutput(ctx, found, o.format, errors);
    });
  return cmd;
}

async function setCurrent(name: string): Promise<void> {
  const cfg = await loadConfig();
  if (name === DEFAULT_CONTEXT) delete cfg.currentContext;
  else cfg.currentContext = name;
  await saveConfig(cfg);
}

export function defineContextUse(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('use');
  parent.addCommand(cmd);
  usage(cmd, 'use CONTEXT')
    .description('Set the current docker context')
    .argument('<context>')
    .action(async (name: string) => {
      if (name !== DEFAULT_CONTEXT) validateNameForLookup(name);
      if (!contextExists(name)) throw new StatusError(1, `context "${name}" does not exist`);
      await setCurrent(name);
      ctx.out.write(`${name}\n`);
      ctx.err.write(`Current context is now "${name}"\n`);
      if (name !== DEFAULT_CONTEXT && process.env.DOCKER_HOST) ctx.err.write(hostWarning);
    });
  return cmd;
}

function validateNameForLookup(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/.test(name)) validateName(name);
}

/** `--docker host=…,ca=…,cert=…,key=…,skip-tls-verify=…` into an endpoint and its TLS files. */
function dockerEndpoint(spec: string[]): { endpoint: { Host?: string; SkipTLSVerify: boolean }; tls: Partial<Record<'ca.pem' | 'cert.pem' | 'key.pem', Buffer>> } {
  const ep: { Host?: string; SkipTLSVerify: boolean } = { Host: undefined, SkipTLSVerify: false };
  const tls: Partial<Record<'ca.pem' | 'cert.pem' | 'key.pem', Buffer>> = {};
  const fail = (msg: string) => new StatusError(1, `unable to create docker endpoint config: ${msg}`);
  const read = (path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw fail(`open ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message}`);
    }
  };
  for (const part of spec.flatMap((s) => s.split(','))) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (key === 'host') ep.Host = value;
    else if (key === 'skip-tls-verify') {
      const b = /^(1|t|T|TRUE|true|True)$/.test(value) ? true : /^(0|f|F|FALSE|false|False)$/.test(value) ? false : undefined;
      if (b === undefined) throw fail(`skip-tls-verify: parsing ${JSON.stringify(value)}: invalid syntax`);
      ep.SkipTLSVerify = b;
    } else if (key === 'ca') tls['ca.pem'] = read(value);
    else if (key === 'cert') tls['cert.pem'] = read(value);
    else if (key === 'key') tls['key.pem'] = read(value);
    else throw fail(`unrecognized config key: ${key}`);
  }
  return { endpoint: ep, tls };
}

export function defineContextCreate(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('create');
  parent.addCommand(cmd);
  usage(cmd, 'create [OPTIONS] CONTEXT')
    .description('Create a context')
    .argument('<context>')
    .option('--description <string>', 'Description of the context')
    .option('--docker <stringToString>', 'set the docker endpoint', collect)
    .option('--from <string>', 'create context from a named context')
    .action(async (name: string, o: { description?: string; docker?: string[]; from?: string }) => {
      validateName(name);
      if (contextExists(name)) throw new StatusError(1, `context "${name}" already exists`);
      const flags = globalOpts(cmd);
      let endpoint;
      let tls;
      if (o.docker) ({ endpoint, tls } = dockerEndpoint(o.docker));
      else {
        const from = o.from ?? resolveContextName(flags);
        if (!contextExists(from)) throw new StatusError(1, `context "${from}" does not exist`);
        endpoint = readContext(from, flags.host).Endpoints.docker ?? { SkipTLSVerify: false };
        tls = readContextTls(from);
      }
      await writeContext({ Name: name, Metadata: { Description: o.description ?? '' }, Endpoints: { docker: endpoint } });
      await writeContextTls(name, tls);
      ctx.out.write(`${name}\n`);
      ctx.err.write(`Successfully created context "${name}"\n`);
    });
  return cmd;
}

export function defineContextRm(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} CONTEXT [CONTEXT...]`)
    .description('Remove one or more contexts')
    .argument('<contexts...>')
    .option('-f, --force', 'Force the removal of a context in use')
    .action(async (names: string[], o: { force?: boolean }) => {
      const current = storedCurrentContext();
      const errors: string[] = [];
      for (const n of names) {
        if (n === DEFAULT_CONTEXT) errors.push('default: context "default" cannot be removed');
        else if (!contextExists(n)) {
          // -f makes a missing context no error, as in Docker
          if (o.force) ctx.out.write(`${n}\n`);
          else errors.push(`context "${n}" does not exist`);
        }
        else if (n === current && !o.force) errors.push(`context "${n}" is in use, set -f flag to force remove`);
        else {
          if (n === current) await setCurrent(DEFAULT_CONTEXT);
          await removeContext(n);
          ctx.out.write(`${n}\n`);
        }
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    });
  return cmd;
}
