/** Container commands: run, create, start, stop, kill, restart, rm, ps, logs, wait, top, rename, attach. */
import { injectDockerConfig, prepareApiSocket } from './api-socket.js';
import { closeSync, existsSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { Command } from 'commander';
import type { ContainerCreateResponse } from '../api/types.js';
import { ApiError, ConnectionError } from '../client/api-error.js';
import type { EngineClient, HijackedConnection } from '../client/engine-client.js';
import { demuxStream } from '../client/stdcopy.js';
import { familiarString, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import { forwardSignals, monitorTtySize, streamAttach } from './attach-io.js';
import { collectFilter, BIN, RUN_LIKE, StatusError, confirm, describeError, forEachArg, parseFilters, usage, type CliContext, type DefineCommand, intOpt } from './cli-context.js';
import { ContainerRow, CONTAINER_HEADERS, DEFAULT_CONTAINER_TABLE, renderRows } from './format/formatter.js';
import { tabwrite } from './format/tabwriter.js';
import { humanSize } from './format/units.js';
import { Template, TemplateError } from '../lib/go-template.js';
import { pullImage } from './images.js';
import { addContainerFlags, applyFalsified, buildContainerSpec, FlagError, normalizePflagArgv, type ContainerSpec } from './run-options.js';
import { getTimestamp } from './time-opts.js';

/** docker: <msg>\n\nRun 'docker run --help' for more information */
function withHelp(message: string, command: string): string {
  return `${BIN}: ${message}\n\nRun '${BIN} ${command} --help' for more information`;
}

/** Docker's toStatusError: 127 for not found, 126 for permission denied, 125 otherwise. */
export function toStatusError(err: unknown, command = 'run'): StatusError {
  const msg = describeError(err);
  let status = 125;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) status = 127;
  else if (/permission denied|is a directory/.test(msg)) status = 126;
  return new StatusError(status, withHelp(msg, command));
}

class CidFile {
  private fd: number | undefined;
  private written = false;

  constructor(private readonly path: string) {
    if (!path) return;
    if (existsSync(path)) {
      throw new Error(`container ID file found, make sure the other container isn't running or delete ${path}`);
    }
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new Error(`failed to create the container ID file: ${(err as Error).message}`);
    }
  }

  write(id: string): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, id);
    this.written = true;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    if (!this.written) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/** Docker's createContainer: cidfile, --pull, "Unable to find image" + pull + retry, warnings. */
/** Creates the container (pulling its image if missing); `sent` is called once a create request is written. */
async function createContainer(ctx: CliContext, spec: ContainerSpec, sent?: () => void): Promise<string> {
  const client = ctx.client();
  const cid = new CidFile(spec.hostConfig.ContainerIDFile ?? '');
  try {
    let named: string | undefined;
    try {
      named = familiarString(withDefaultTag(parseNormalizedNamed(spec.config.Image ?? '')));
    } catch {
      named = undefined; // an image ID or digest: never pulled
    }
    if (spec.pull === 'always') await pullImage(ctx, spec.config.Image!, { quiet: spec.quiet, platform: spec.platform, out: ctx.err });
    if (ctx.out.isTTY) spec.hostConfig.ConsoleSize = [ctx.out.rows ?? 0, ctx.out.columns ?? 0];
    const apiSocketConfig = spec.useApiSocket ? await prepareApiSocket(spec, client.host) : undefined;
    const body = { ...spec.config, HostConfig: spec.hostConfig, NetworkingConfig: spec.networkingConfig };
    let res: ContainerCreateResponse;
    try {
      res = await client.containerCreate(body, { name: spec.name, platform: spec.platform, sent });
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 404 && named !== undefined && spec.pull === 'missing')) throw err;
      if (!spec.quiet) ctx.err.write(`Unable to find image '${named}' locally\n`);
      await pullImage(ctx, spec.config.Image!, { quiet: spec.quiet, platform: spec.platform, out: ctx.err });
      res = await client.containerCreate(body, { name: spec.name, platform: spec.platform, sent });
    }
    for (const w of res.Warnings ?? []) ctx.err.write(`WARNING: ${w}\n`);
    cid.write(res.Id);
    if (apiSocketConfig !== undefined) await injectDockerConfig(client, res.Id, apiSocketConfig);
    return res.Id;
  } finally {
    cid.close();
  }
}

type AttachStreaming = ReturnType<typeof streamAttach>;

/** The container's streams on this terminal: stdin when attached, stderr into stdout under a TTY. */
function attachTerminal(ctx: CliContext, conn: HijackedConnection, o: { tty: boolean; withStdin: boolean; detachKeys?: string }): AttachStreaming {
  return streamAttach(conn, {
    tty: o.tty,
    stdin: o.withStdin ? process.stdin : null,
    stdout: ctx.out,
    stderr: o.tty ? ctx.out : ctx.err,
    detachKeys: o.detachKeys,
  });
}

/** Waits for the streams to end (or a detach), keeping the container's TTY the terminal's size. */
async function followTerminal(ctx: CliContext, client: EngineClient, id: string, tty: boolean, streaming: AttachStreaming): Promise<void> {
  const stopResize = tty && ctx.out.isTTY ? monitorTtySize(client, id, ctx.out) : () => undefined;
  try {
    await streaming.done;
  } finally {
    stopResize();
    streaming.restore();
  }
}

async function waitStatus(result: Promise<{ StatusCode: number; Error?: { Message: string } | null }>, ctx: CliContext): Promise<number> {
  try {
    const r = await result;
    if (r.Error?.Message) {
      ctx.err.write(`Error waiting for container: ${r.Error.Message}\n`);
      return 125;
    }
    return r.StatusCode;
  } catch (err) {
    ctx.err.write(`Error waiting for container: ${(err as Error).message}\n`);
    return 125;
  }
}

/** The `run` flow (Docker's runContainer). Returns the exit status. */
export async function runContainer(ctx: CliContext, spec: ContainerSpec, attachGiven: boolean): Promise<number> {
  const client = ctx.client();
  const config = spec.config;
  if (!spec.detach) {
    if (config.AttachStdin && config.Tty && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
  } else if (attachGiven) {
    throw new Error('conflicting options: cannot specify both --attach and --detach');
  }

  let id: string;
  try {
    // Wait (and attach) go through node:http: loaded while the daemon creates the container.
    id = await createContainer(ctx, spec, () => client.prepareStreams());
  } catch (err) {
    throw toStatusError(err);
  }

  const stopSignals = spec.sigProxy && !config.Tty ? forwardSignals(client, id) : () => undefined;
  const attach = !!(config.AttachStdin || config.AttachStdout || config.AttachStderr);
  try {
    let streaming: ReturnType<typeof streamAttach> | undefined;
    // Attach and wait go out together (each on its own connection); both are in place before start.
    const attaching = attach
      ? client.containerAttach(id, {
          stream: true,
          stdin: config.AttachStdin,
          stdout: config.AttachStdout,
          stderr: config.AttachStderr,
          detachKeys: spec.detachKeys,
        })
      : undefined;
    const waiting = client.containerWait(id, spec.hostConfig.AutoRemove ? 'removed' : 'next-exit');
    const [attached, waited] = await Promise.allSettled([attaching, waiting]);
    if (attached.status === 'rejected') {
      if (waited.status === 'fulfilled') waited.value.result.catch(() => undefined);
      throw attached.reason;
    }
    if (waited.status === 'rejected') {
      attached.value?.close();
      throw waited.reason;
    }
    const conn = attached.value;
    const wait = waited.value;
    if (conn) {
      streaming = streamAttach(conn, {
        tty: !!config.Tty,
        stdin: config.AttachStdin ? process.stdin : null,
        stdout: config.AttachStdout ? ctx.out : null,
        stderr: config.AttachStderr ? (config.Tty ? ctx.out : ctx.err) : null,
        detachKeys: spec.detachKeys,
      });
    }
    try {
      await client.containerStart(id);
    } catch (err) {
      if (conn && streaming) {
        conn.close();
        streaming.restore();
        await streaming.done.catch(() => undefined);
      }
      if (spec.hostConfig.AutoRemove) await wait.result.catch(() => undefined);
      throw toStatusError(err);
    }
    if (!attach) {
      ctx.out.write(`${id}\n`);
      return 0;
    }
    let stopResize = () => undefined as void;
    if (config.Tty && ctx.out.isTTY) stopResize = monitorTtySize(client, id, ctx.out);
    try {
      const statusP = waitStatus(wait.result, ctx);
      const first = await Promise.race([
        streaming!.done.then(() => 'stream' as const, (e: Error) => e),
        statusP.then(() => 'status' as const),
      ]);
      if (first instanceof Error) throw first;
      // Detached (ctrl-p ctrl-q): the container goes on; Docker's run returns 0 at once.
      if (first === 'stream' && streaming!.detached()) return 0;
      if (first === 'status' && !config.AttachStdout && !config.AttachStderr) {
        conn!.close();
      }
      await streaming!.done.catch(() => undefined);
      return await statusP;
    } finally {
      stopResize();
      streaming?.restore();
    }
  } finally {
    stopSignals();
  }
}



function defineRunLike(parent: Command, ctx: CliContext, mode: 'run' | 'create', name = mode): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  RUN_LIKE.add(cmd);
  cmd
    .description(mode === 'run' ? 'Create and run a new container from an image' : 'Create a new container')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .allowExcessArguments(true);
  usage(cmd, `${name} [OPTIONS] IMAGE [COMMAND] [ARG...]`);
  addContainerFlags(cmd, mode);
  cmd.action(async (image: string, command: string[], _o, self: Command) => {
    const falsified = (self as Command & { __falsified?: Set<string> }).__falsified ?? new Set<string>();
    const opts = applyFalsified(self.opts(), falsified);
    let spec: ContainerSpec;
    try {
      spec = buildContainerSpec(opts, image, command ?? []);
    } catch (err) {
      if (err instanceof FlagError) throw err;
      throw new StatusError(125, withHelp((err as Error).message, mode));
    }
    // Docker pings first: version negotiation and a daemon connection error before anything else
    // (for run, an unreachable daemon is a run failure: 125, or 126 for permission denied).
    await ctx
      .client()
      .negotiatedVersion()
      .catch((err: unknown) => {
        throw mode === 'run' && err instanceof ConnectionError ? toStatusError(err) : err;
      });
    if (mode === 'create') {
      // Docker's create reports daemon errors plainly (exit 1); only flag errors are 125.
      ctx.out.write(`${await createContainer(ctx, spec)}\n`);
      return;
    }
    const status = await runContainer(ctx, spec, Array.isArray(opts.attach) && opts.attach.length > 0);
    if (status !== 0) throw new StatusError(status);
  });
  return cmd;
}

/** Hook for main: rewrites `--bool=false` & co before commander sees them. */
export function preprocessRunArgv(cmd: Command, argv: string[]): string[] {
  const { argv: out, falsified } = normalizePflagArgv(cmd, argv);
  (cmd as Command & { __falsified?: Set<string> }).__falsified = falsified;
  return out;
}

export const defineRun: DefineCommand = (parent, ctx) => defineRunLike(parent, ctx, 'run');
export const defineCreate: DefineCommand = (parent, ctx) => defineRunLike(parent, ctx, 'create');

export function defineStart(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('start');
  parent.addCommand(cmd);
  usage(cmd, 'start [OPTIONS] CONTAINER [CONTAINER...]')
    .description('Start one or more stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (containers: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const client = ctx.client();
      if (o.attach || o.interactive) {
        if (containers.length > 1) throw new Error('you cannot start and attach multiple containers at once');
        const c = await client.containerInspect(containers[0]!);
        if (c.State.Running) {
          throw new Error(`You cannot attach to a running container: ${containers[0]}`);
        }
        const tty = !!c.Config.Tty;
        const withStdin = !!o.interactive && !!c.Config.OpenStdin;
        if (withStdin && tty && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
        const stopSignals = !tty ? forwardSignals(client, c.Id) : () => undefined;
        try {
          const conn = await client.containerAttach(c.Id, {
            stream: true,
            stdin: withStdin,
            stdout: true,
            stderr: true,
            detachKeys: o.detachKeys,
          });
          const wait = await client.containerWait(c.Id, c.HostConfig.AutoRemove ? 'removed' : 'next-exit');
          const streaming = attachTerminal(ctx, conn, { tty, withStdin, detachKeys: o.detachKeys });
          try {
            await client.containerStart(c.Id, { detachKeys: o.detachKeys });
          } catch (err) {
            conn.close();
            streaming.restore();
            await streaming.done.catch(() => undefined);
            if (c.HostConfig.AutoRemove) await wait.result.catch(() => undefined);
            throw err;
          }
          await followTerminal(ctx, client, c.Id, tty, streaming);
          if (streaming.detached()) return;
          const status = await waitStatus(wait.result, ctx);
          if (status !== 0) throw new StatusError(status);
        } finally {
          stopSignals();
        }
        return;
      }
      const failed: string[] = [];
      const errors: string[] = [];
      for (const c of containers) {
        try {
          await client.containerStart(c);
          ctx.out.write(`${c}\n`);
        } catch (err) {
          errors.push(describeError(err));
          failed.push(c);
        }
      }
      if (failed.length) {
        errors.push(`Error: failed to start containers: ${failed.join(', ')}`);
        throw new StatusError(1, errors.join('\n'));
      }
    });
  return cmd;
}

function defineStopLike(parent: Command, ctx: CliContext, name: 'stop' | 'restart'): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS] CONTAINER [CONTAINER...]`)
    .description(name === 'stop' ? 'Stop one or more running containers' : 'Restart one or more containers')
    .argument('<containers...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .option('-t, --timeout <int>', 'Seconds to wait before killing the container')
    .option('--time <int>', 'Seconds to wait before killing the container (deprecated)')
    .action(async (containers: string[], o: { signal?: string; timeout?: string; time?: string }) => {
      const timeout = intOpt(o.timeout ?? o.time, '-t, --timeout');
      const client = ctx.client();
      await forEachArg(ctx, containers, async (c) => {
        if (name === 'stop') await client.containerStop(c, { signal: o.signal, timeout });
        else await client.containerRestart(c, { signal: o.signal, timeout });
        ctx.out.write(`${c}\n`);
      });
    });
  return cmd;
}

export function defineKill(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('kill');
  parent.addCommand(cmd);
  usage(cmd, 'kill [OPTIONS] CONTAINER [CONTAINER...]')
    .description('Kill one or more running containers')
    .argument('<containers...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .action(async (containers: string[], o: { signal?: string }) => {
      const client = ctx.client();
      await forEachArg(ctx, containers, async (c) => {
        await client.containerKill(c, o.signal);
        ctx.out.write(`${c}\n`);
      });
    });
  return cmd;
}

export function defineRm(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('rm');
  parent.addCommand(cmd);
  usage(cmd, 'rm [OPTIONS] CONTAINER [CONTAINER...]')
    .description('Remove one or more containers')
    .argument('<containers...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-l, --link', 'Remove the specified link')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action(async (containers: string[], o: { force?: boolean; volumes?: boolean; link?: boolean }) => {
      const client = ctx.client();
      await forEachArg(ctx, containers, async (c) => {
        const name = c.replace(/^\/+/, '');
        if (!name) throw new Error('Container name cannot be empty');
        await client.containerRemove(name, { force: o.force, volumes: o.volumes, link: o.link });
        ctx.out.write(`${c}\n`);
      });
    });
  return cmd;
}

interface PsOpts {
  all?: boolean;
  quiet?: boolean;
  size?: boolean;
  noTrunc?: boolean;
  latest?: boolean;
  last?: string;
  format?: string;
  filter?: string[];
}

/** `ps`, and `ls` under `container`. */
/**
 * Docker's ps checks a --format before listing: the raw value parsed ("failed to parse template")
 * and run on an empty container ("failed to execute template"), so a bad field fails even with no
 * containers.
 */
function validatePsFormat(format: string): void {
  let tmpl: Template;
  try {
    tmpl = new Template(format);
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(1, `failed to parse template: ${err.message}`);
    throw err;
  }
  try {
    tmpl.execute(new ContainerRow({ Id: '', Names: [], Image: '', Command: '', Created: 0, Ports: [], Labels: {}, State: '', Status: '', Mounts: [] } as unknown as ConstructorParameters<typeof ContainerRow>[0], true, Date.now()));
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(1, `failed to execute template: ${err.message}`);
    // An empty row a method cannot handle says nothing about the template.
  }
}

export function definePs(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS]`)
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collectFilter)
    .option('--format <string>', 'Format output using a custom template')
    .option('-n, --last <int>', 'Show n last created containers (includes all states) (default -1)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes')
    .action(async (o: PsOpts & { trunc?: boolean }) => {
      let limit = intOpt(o.last, '-n, --last') ?? -1;
      if (o.latest && limit === -1) limit = 1;
      let format = o.format ?? '';
      if (format && o.quiet) ctx.err.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
      if (format) validatePsFormat(format);
      let size = !!o.size;
      if (format && !o.quiet && !o.size && (format === 'json' || /\.Size\b|json \.\s*}}/.test(format))) size = true;
      const filters = parseFilters(o.filter);
      const trunc = o.trunc !== false;
      if (o.quiet) format = '{{.ID}}';
      else if (format === '' || format === 'table') format = DEFAULT_CONTAINER_TABLE + (size ? '\t{{.Size}}' : '');
      const list = await ctx.client().containerList({ all: o.all || limit > 0, limit, size, filters });
      const now = Date.now();
      try {
        ctx.out.write(renderRows(format, list.map((c) => new ContainerRow(c, trunc, now)), CONTAINER_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
    });
  return cmd;
}

export function defineLogs(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('logs');
  parent.addCommand(cmd);
  usage(cmd, 'logs [OPTIONS] CONTAINER')
    .description('Fetch the logs of a container')
    .argument('<container>')
    .option('--details', 'Show extra details provided to logs')
    .option('-f, --follow', 'Follow log output')
    .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .action(async (container: string, o: { details?: boolean; follow?: boolean; since?: string; until?: string; tail?: string; timestamps?: boolean }) => {
      const client = ctx.client();
      const c = await client.containerInspect(container);
      const now = Date.now();
      const since = o.since ? getTimestamp(o.since, now) : undefined;
      const until = o.until ? getTimestamp(o.until, now) : undefined;
      const body = await client.containerLogs(container, {
        stdout: true,
        stderr: true,
        follow: o.follow,
        since,
        until,
        timestamps: o.timestamps,
        tail: o.tail,
        details: o.details,
      });
      if (c.Config.Tty) {
        await new Promise<void>((resolve, reject) => {
          body.on('data', (d: Buffer) => ctx.out.write(d));
          body.on('end', resolve);
          body.on('error', reject);
        });
      } else {
        await demuxStream(body, ctx.out, ctx.err);
      }
    });
  return cmd;
}

export function defineWait(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('wait');
  parent.addCommand(cmd);
  usage(cmd, 'wait CONTAINER [CONTAINER...]')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<containers...>')
    .action(async (containers: string[]) => {
      const client = ctx.client();
      await forEachArg(ctx, containers, async (c) => {
        const w = await client.containerWait(c, 'not-running');
        const r = await w.result;
        if (r.Error?.Message) throw new Error(r.Error.Message);
        ctx.out.write(`${r.StatusCode}\n`);
      });
    });
  return cmd;
}

export function defineTop(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('top');
  parent.addCommand(cmd);
  usage(cmd, 'top CONTAINER [ps OPTIONS]')
    .description('Display the running processes of a container')
    .argument('<container>')
    .argument('[psArgs...]')
    .passThroughOptions()
    .action(async (container: string, psArgs: string[]) => {
      const top = await ctx.client().containerTop(container, psArgs.join(' ') || undefined);
      let text = `${top.Titles.join('\t')}\n`;
      for (const p of top.Processes ?? []) text += `${p.join('\t')}\n`;
      ctx.out.write(tabwrite(text, { minwidth: 20, padding: 3, padchar: ' ' }));
    });
  return cmd;
}

export function defineRename(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('rename');
  parent.addCommand(cmd);
  usage(cmd, 'rename CONTAINER NEW_NAME')
    .description('Rename a container')
    .argument('<container>')
    .argument('<newName>')
    .action(async (container: string, newName: string) => {
      const oldName = container.trim();
      const name = newName.trim();
      if (!oldName || !name) throw new Error('Error: Neither old nor new names may be empty');
      try {
        await ctx.client().containerRename(oldName, name);
      } catch (err) {
        throw new Error(`${describeError(err)}\nError: failed to rename container named ${oldName}`);
      }
    });
  return cmd;
}

export function definePrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune [OPTIONS]')
    .description('Remove all stopped containers')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter?: string[]; force?: boolean }) => {
      if (!o.force && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return;
      const report = await ctx.client().containerPrune(parseFilters(o.filter));
      const deleted = report.ContainersDeleted ?? [];
      if (deleted.length) ctx.out.write(`Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`);
      ctx.out.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    });
  return cmd;
}

export function defineAttach(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('attach');
  parent.addCommand(cmd);
  usage(cmd, 'attach [OPTIONS] CONTAINER')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('--no-stdin', 'Do not attach STDIN')
    .option('--sig-proxy', 'Proxy all received signals to the process (default true)', true)
    .action(async (container: string, o: { stdin?: boolean; sigProxy?: boolean; detachKeys?: string }) => {
      const client = ctx.client();
      const c = await client.containerInspect(container);
      if (!c.State.Running) throw new Error('You cannot attach to a stopped container, start it first');
      if (c.State.Paused) throw new Error('You cannot attach to a paused container, unpause it first');
      if (c.State.Restarting) throw new Error('You cannot attach to a restarting container, wait until it is running');
      const tty = !!c.Config.Tty;
      const withStdin = o.stdin !== false && !!c.Config.OpenStdin;
      if (withStdin && tty && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
      const stopSignals = o.sigProxy !== false && !tty ? forwardSignals(client, c.Id) : () => undefined;
      try {
        const conn = await client.containerAttach(c.Id, { stream: true, stdin: withStdin, stdout: true, stderr: true, detachKeys: o.detachKeys });
        const streaming = attachTerminal(ctx, conn, { tty, withStdin, detachKeys: o.detachKeys });
        await followTerminal(ctx, client, c.Id, tty, streaming);
        // As Docker's CLI: detaching is reported, with status 1.
        if (streaming.detached()) throw new Error('read escape sequence');
        const after = await client.containerInspect(c.Id).catch(() => undefined);
        if (after && !after.State.Running && after.State.ExitCode !== 0) throw new StatusError(after.State.ExitCode);
      } finally {
        stopSignals();
      }
    });
  return cmd;
}

export const defineStop: DefineCommand = (parent, ctx) => defineStopLike(parent, ctx, 'stop');
export const defineRestart: DefineCommand = (parent, ctx) => defineStopLike(parent, ctx, 'restart');
