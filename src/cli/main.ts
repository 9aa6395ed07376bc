#!/usr/bin/env node
/**
 * `wharf`: the Docker-compatible CLI. Global flags come before the command (as with docker);
 * errors, usage messages and exit codes follow the Docker CLI.
 */
import { Command, CommanderError } from 'commander';
import { ApiError, ConnectionError } from '../client/api-error.js';
import { BIN, CLI_VERSION, FlagError, RUN_LIKE, StatusError, USAGES, closeSharedClient, createContext, describeError, usage, type CliContext, type ConnectionFlags } from './cli-context.js';
import { commandIndex, rowsFor, splitPath, type CommandRow } from './commands.js';
import { DEFAULT_CONTEXT, resolveContextName } from './context-name.js';

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function usageLine(cmd: Command): string {
  const u = USAGES.get(cmd);
  const parentPath = cmd.parent ? commandPath(cmd.parent) : '';
  return u ? `${parentPath} ${u}`.trim() : `${commandPath(cmd)} [OPTIONS]`;
}

/** Docker's flag error text (exit 125). */
function flagErrorText(cmd: Command, message: string): string {
  return `${message}\n\nUsage:  ${usageLine(cmd)}\n\nRun '${commandPath(cmd)} --help' for more information`;
}

/** Turns commander's messages into pflag/cobra wording. */
function translateCommanderError(cmd: Command, err: CommanderError): StatusError | null {
  const m = err.message.replace(/^error: /, '');
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.help':
    case 'commander.version':
      return new StatusError(0);
    case 'commander.unknownOption': {
      const opt = /'([^']+)'/.exec(m)?.[1] ?? m;
      const text = opt.startsWith('--') ? `unknown flag: ${opt}` : `unknown shorthand flag: '${opt.slice(1, 2)}' in ${opt}`;
      return new StatusError(125, flagErrorText(cmd, text));
    }
    case 'commander.optionMissingArgument': {
      const flags = /'([^']+)'/.exec(m)?.[1] ?? '';
      const long = /--[\w-]+/.exec(flags)?.[0];
      const short = /(^|\s)-(\w)\b/.exec(flags)?.[2];
      const text = short ? `flag needs an argument: '${short}' in -${short}` : `flag needs an argument: ${long ?? flags}`;
      return new StatusError(125, flagErrorText(cmd, text));
    }
    case 'commander.invalidArgument': {
      // pflag: invalid argument "v" for "-f, --filter" flag: reason
      const inv = /^option '([^']+)' argument '([\s\S]*)' is invalid\. ([\s\S]*)$/.exec(m);
      const text = inv ? `invalid argument "${inv[2]}" for "${inv[1]!.replace(/\s*<[^>]*>$/, '')}" flag: ${inv[3]}` : m;
      return new StatusError(125, flagErrorText(cmd, text));
    }
    case 'commander.missingArgument': {
      const min = cmd.registeredArguments.filter((a) => a.required).length;
      return new StatusError(
        1,
        `${BIN}: '${commandPath(cmd)}' requires at least ${min} argument${min === 1 ? '' : 's'}\n\nUsage:  ${usageLine(cmd)}\n\nSee '${commandPath(cmd)} --help' for more information`,
      );
    }
    case 'commander.excessArguments': {
      const max = cmd.registeredArguments.length;
      const what = max === 0 ? 'accepts no arguments' : `requires at most ${max} argument${max === 1 ? '' : 's'}`;
      return new StatusError(1, `${BIN}: '${commandPath(cmd)}' ${what}\n\nUsage:  ${usageLine(cmd)}\n\nSee '${commandPath(cmd)} --help' for more information`);
    }
    case 'commander.unknownCommand': {
      const name = /'([^']+)'/.exec(m)?.[1] ?? m;
      return new StatusError(1, `${BIN}: unknown command: ${commandPath(cmd)} ${name}\n\nRun '${commandPath(cmd)} --help' for more information`);
    }
    default:
      return new StatusError(err.exitCode === 0 ? 0 : 125, flagErrorText(cmd, m));
  }
}

/** The program's flags that take a value (`-H`, `--host`, …). */
function valueFlags(program: Command): Set<string> {
  return new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)));
}

/** Defines `rows` in order, loading their modules in parallel. */
async function registerRows(program: Command, ctx: CliContext, rows: readonly CommandRow[]): Promise<void> {
  const defines = await Promise.all(rows.map(([, what]) => (typeof what === 'function' ? what() : Promise.resolve(undefined))));
  const groups = new Map<string, Command>();
  rows.forEach(([path, what], n) => {
    const { group, name, aliases } = splitPath(path);
    const parent = group ? groups.get(group) : program;
    if (!parent) throw new Error(`commands.ts: ${path} comes before its group`);
    let cmd: Command;
    if (typeof what === 'function') {
      cmd = defines[n]!(parent, ctx, name);
      if (cmd.name() !== name) throw new Error(`commands.ts: ${path} defines ${cmd.name()}`);
    } else {
      cmd = new Command(name).description(what.description);
      if (what.positionalOptions) cmd.enablePositionalOptions();
      parent.addCommand(cmd);
      usage(cmd, `${name} COMMAND`);
      groups.set(name, cmd);
    }
    for (const a of aliases) cmd.alias(a);
  });
}

async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command(BIN);
  // The daemon as Docker picks it: -c, then -H / DOCKER_HOST, DOCKER_CONTEXT, currentContext.
  // The context store (and the crypto its paths need) is loaded only for a named context: before
  // an action, so that the client can be made synchronously in it.
  let store: typeof import('./context-store.js') | undefined;
  const ctx = createContext(() => {
    const flags = program.opts<ConnectionFlags & { context?: string }>();
    if (resolveContextName(flags) === DEFAULT_CONTEXT) return { ...flags, contextTls: null };
    if (!store) throw new Error('wharf: the context store was not loaded before the command ran');
    return { ...flags, host: store.resolveDaemonHost(flags), contextTls: store.resolveContextTls(flags) };
  });
  program
    .description('A self-sufficient runtime for containers')
    .usage('[OPTIONS] COMMAND')
    .enablePositionalOptions()
    .option('--config <string>', 'Location of client config files')
    .option('-c, --context <string>', 'Name of the context to use to connect to the daemon')
    .option('-D, --debug', 'Enable debug mode')
    .option('-H, --host <string>', 'Daemon socket to connect to')
    .option('-l, --log-level <string>', 'Set the logging level ("debug", "info", "warn", "error", "fatal")')
    .option('--tls', 'Use TLS; implied by --tlsverify')
    .option('--tlscacert <string>', 'Trust certs signed only by this CA')
    .option('--tlscert <string>', 'Path to TLS certificate file')
    .option('--tlskey <string>', 'Path to TLS key file')
    .option('--tlsverify', 'Use TLS and verify the remote')
    .version(`${BIN} version ${CLI_VERSION}`, '-v, --version', 'Print version information and quit')
    .helpCommand(false);

  program.hook('preAction', async () => {
    let name = DEFAULT_CONTEXT;
    try {
      name = resolveContextName(program.opts());
    } catch {
      // conflicting flags: reported when the command asks for its client
    }
    if (name !== DEFAULT_CONTEXT) store ??= await import('./context-store.js');
  });

  await registerRows(program, ctx, rowsFor(argv, valueFlags(program)));

  const configure = (cmd: Command) => {
    cmd.exitOverride((err) => {
      throw translateCommanderError(cmd, err) ?? err;
    });
    cmd.configureOutput({
      writeErr: (s) => {
        // commander's own error lines are replaced by Docker-style ones; help goes to stdout
        if (!s.startsWith('error:')) process.stderr.write(s);
      },
    });
    if (!RUN_LIKE.has(cmd) && cmd !== program) cmd.helpOption('--help', 'Print usage');
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Finds `run`/`create` in argv (after global flags) and normalises its pflag-style booleans. */
async function preprocess(program: Command, argv: string[]): Promise<string[]> {
  let cmds = program.commands;
  for (let i = commandIndex(argv, valueFlags(program)); i < argv.length; i++) {
    const c = cmds.find((x) => x.name() === argv[i] || x.aliases().includes(argv[i]!));
    if (!c) break;
    if (RUN_LIKE.has(c)) {
      const { preprocessRunArgv } = await import('./containers.js');
      return [...argv.slice(0, i + 1), ...preprocessRunArgv(c, argv.slice(i + 1))];
    }
    cmds = c.commands;
    if (cmds.length === 0) break;
  }
  return argv;
}

function writeAndExit(code: number): void {
  closeSharedClient();
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

export async function main(argv: string[]): Promise<number> {
  let program: Command;
  try {
    program = await buildProgram(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  try {
    const args = await preprocess(program, argv);
    if (args.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    let e = err;
    if (err instanceof FlagError) {
      const cmd = findCommand(program, argv);
      e = new StatusError(125, cmd ? flagErrorText(cmd, err.message) : err.message);
    }
    if (e instanceof StatusError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      return e.status;
    }
    if (e instanceof ConnectionError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof ApiError) {
      process.stderr.write(`${describeError(e)}\n`);
      return 1;
    }
    if (e instanceof CommanderError) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}

/**
 * The command argv runs, for a flag error its action raised: of the registered commands whose
 * path (a sub-command's by name or alias) is in argv, the one found earliest, the longest there.
 */
function findCommand(program: Command, argv: string[]): Command | undefined {
  let best: { cmd: Command; at: number; length: number } | undefined;
  const visit = (parent: Command, path: string[]) => {
    for (const cmd of parent.commands) {
      for (const name of [cmd.name(), ...cmd.aliases()]) {
        const full = [...path, name];
        const at = argv.findIndex((_, i) => full.every((p, j) => argv[i + j] === p));
        if (at >= 0 && (!best || at < best.at || (at === best.at && full.length > best.length))) best = { cmd, at, length: full.length };
      }
      visit(cmd, [...path, cmd.name()]);
    }
  };
  visit(program, []);
  return best?.cmd;
}

main(process.argv.slice(2)).then(writeAndExit, (err) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  writeAndExit(1);
});
