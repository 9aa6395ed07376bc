/**
 * `wharf exec`: runs a command in a running container, as the Docker CLI does (inspect, exec
 * create, then a detached start or an attached hijacked one), and exits with the command's code.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { EngineClient } from '../client/engine-client.js';
import { streamAttach } from './attach-io.js';
import { StatusError, collect, usage, type CliContext } from './cli-context.js';
import { parseKeyValueFile, resolveEnv } from './run-options.js';
import type { ExecCreateRequest } from '../api/types.js';

interface ExecOpts {
  detach?: boolean;
  detachKeys?: string;
  env?: string[];
  envFile?: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

/** Docker's exec options into the create request (ReadKVEnvStrings: env files first, then -e). */
export function execCreateRequest(o: ExecOpts, cmd: string[], env: NodeJS.ProcessEnv = process.env, readFile = (p: string) => readFileSync(p, 'utf8')): ExecCreateRequest {
  const vars: string[] = [];
  for (const f of o.envFile ?? []) {
    let content: string;
    try {
      content = readFile(f);
    } catch (err) {
      throw new Error(`open ${f}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    vars.push(...parseKeyValueFile(content, (k) => env[k]));
  }
  for (const e of o.env ?? []) vars.push(resolveEnv(e, env));
  const req: ExecCreateRequest = {
    User: o.user ?? '',
    Privileged: !!o.privileged,
    Tty: !!o.tty,
    AttachStdin: !!o.interactive && !o.detach,
    AttachStderr: !o.detach,
    AttachStdout: !o.detach,
    Detach: !!o.detach,
    DetachKeys: o.detachKeys ?? '',
    Env: vars,
    WorkingDir: o.workdir ?? '',
    Cmd: cmd,
  };
  return req;
}

/** Sends the terminal size now and on SIGWINCH; returns a stop function. */
function monitorExecTtySize(client: EngineClient, id: string, out: NodeJS.WriteStream): () => void {
  const send = () => {
    const rows = out.rows ?? 0;
    const cols = out.columns ?? 0;
    if (rows === 0 && cols === 0) return;
    client.execResize(id, rows, cols).catch(() => undefined);
  };
  send();
  process.on('SIGWINCH', send);
  return () => process.off('SIGWINCH', send);
}

async function runExec(ctx: CliContext, container: string, cmd: string[], o: ExecOpts): Promise<void> {
  const req = execCreateRequest(o, cmd);
  const client = ctx.client();
  // As the Docker CLI: a missing container is reported before anything else.
  await client.containerInspect(container);
  if (!o.detach && o.tty && o.interactive && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
  const size: [number, number] | undefined = o.tty && ctx.out.isTTY && ctx.out.rows && ctx.out.columns ? [ctx.out.rows, ctx.out.columns] : undefined;
  if (size) req.ConsoleSize = size;
  const { Id: execId } = await client.execCreate(container, req);
  if (!execId) throw new Error('exec ID empty');
  if (o.detach) {
    await client.execStartDetached(execId, { Tty: !!o.tty, ConsoleSize: size });
    return;
  }
  const conn = await client.execAttach(execId, { Tty: !!o.tty, ConsoleSize: size });
  const stdin = req.AttachStdin ? process.stdin : null;
  const streaming = streamAttach(conn, { tty: !!o.tty, stdin, stdout: ctx.out, stderr: o.tty ? ctx.out : ctx.err, detachKeys: o.detachKeys });
  const stopResize = o.tty && ctx.out.isTTY ? monitorExecTtySize(client, execId, ctx.out) : () => undefined;
  try {
    await streaming.done;
  } finally {
    stopResize();
    streaming.restore();
  }
  if (streaming.detached()) throw new Error('read escape sequence');
  const status = await client.execInspect(execId);
  if (status.ExitCode !== null && status.ExitCode !== 0) throw new StatusError(status.ExitCode);
}

export function defineExec(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('exec');
  parent.addCommand(cmd);
  usage(cmd, 'exec [OPTIONS] CONTAINER COMMAND [ARG...]')
    .description('Execute a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <list>', 'Read in a file of environment variables', collect)
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--privileged', 'Give extended privileges to the command')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .action(async (container: string, command: string[], o: ExecOpts) => runExec(ctx, container, command, o));
  return cmd;
}
