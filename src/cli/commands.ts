/**
 * Every command `wharf` has, in `wharf --help` order, and where it is defined. main.ts registers
 * only the command that runs (all of them for `wharf --help`), so starting `wharf ps` loads the
 * module of `ps` and nothing else. Adding a command is one line: its path and its define function
 * (see DefineCommand). A path is `name|alias|alias` at the top level, `group name|alias` in a group;
 * a group row comes before its commands, which are listed in the group's help order.
 */
import type { DefineCommand } from './cli-context.js';

/** A management command (`container`, `image`, …): a description and its sub-commands. */
export interface CommandGroup {
  description: string;
  /** Options after the sub-command's name belong to it (commander's enablePositionalOptions). */
  positionalOptions?: boolean;
}

export type CommandLoader = () => Promise<DefineCommand>;
export type CommandRow = readonly [path: string, what: CommandLoader | CommandGroup];

const containers = () => import('./containers.js');
const images = () => import('./images.js');
const system = () => import('./system.js');
const registry = () => import('./registry-commands.js');
const networks = () => import('./networks.js');
const volumes = () => import('./volumes.js');
const files = () => import('./container-files.js');
const exec = () => import('./exec.js');
const stats = () => import('./stats.js');
const events = () => import('./events.js');
const build = () => import('./build.js');
const history = () => import('./history.js');
const prune = () => import('./prune.js');
const plugins = () => import('./plugins.js');
const completion = () => import('./completion.js');
const contexts = () => import('./contexts.js');

export const COMMANDS: readonly CommandRow[] = [
  ['run', () => containers().then((m) => m.defineRun)],
  ['create', () => containers().then((m) => m.defineCreate)],
  ['start', () => containers().then((m) => m.defineStart)],
  ['stop', () => containers().then((m) => m.defineStop)],
  ['restart', () => containers().then((m) => m.defineRestart)],
  ['kill', () => containers().then((m) => m.defineKill)],
  ['rm', () => containers().then((m) => m.defineRm)],
  ['ps', () => containers().then((m) => m.definePs)],
  ['logs', () => containers().then((m) => m.defineLogs)],
  ['wait', () => containers().then((m) => m.defineWait)],
  ['top', () => containers().then((m) => m.defineTop)],
  ['rename', () => containers().then((m) => m.defineRename)],
  ['attach', () => containers().then((m) => m.defineAttach)],
  ['container', { description: 'Manage containers', positionalOptions: true }],
  ['container run', () => containers().then((m) => m.defineRun)],
  ['container create', () => containers().then((m) => m.defineCreate)],
  ['container start', () => containers().then((m) => m.defineStart)],
  ['container stop', () => containers().then((m) => m.defineStop)],
  ['container restart', () => containers().then((m) => m.defineRestart)],
  ['container kill', () => containers().then((m) => m.defineKill)],
  ['container rm|remove', () => containers().then((m) => m.defineRm)],
  ['container prune', () => containers().then((m) => m.definePrune)],
  ['container ls|list|ps', () => containers().then((m) => m.definePs)],
  ['container logs', () => containers().then((m) => m.defineLogs)],
  ['container wait', () => containers().then((m) => m.defineWait)],
  ['container top', () => containers().then((m) => m.defineTop)],
  ['container rename', () => containers().then((m) => m.defineRename)],
  ['container attach', () => containers().then((m) => m.defineAttach)],
  ['container inspect', () => system().then((m) => m.defineContainerInspect)],
  ['container port', () => networks().then((m) => m.definePort)],
  ['container stats', () => stats().then((m) => m.defineStats)],
  ['container exec', () => exec().then((m) => m.defineExec)],
  ['container cp', () => files().then((m) => m.defineCp)],
  ['container diff', () => files().then((m) => m.defineDiff)],
  ['container export', () => files().then((m) => m.defineExport)],
  ['container commit', () => files().then((m) => m.defineCommit)],
  ['container pause', () => files().then((m) => m.definePause)],
  ['container unpause', () => files().then((m) => m.defineUnpause)],
  ['container update', () => files().then((m) => m.defineUpdate)],
  ['images', () => images().then((m) => m.defineImages)],
  ['pull', () => images().then((m) => m.definePull)],
  ['import', () => images().then((m) => m.defineImport)],
  ['load', () => images().then((m) => m.defineLoad)],
  ['save', () => images().then((m) => m.defineSave)],
  ['rmi', () => images().then((m) => m.defineRmi)],
  ['tag', () => images().then((m) => m.defineTag)],
  ['history', () => history().then((m) => m.defineHistory)],
  ['search', () => import('./search.js').then((m) => m.defineSearch)],
  ['image', { description: 'Manage images', positionalOptions: true }],
  ['image ls|list', () => images().then((m) => m.defineImages)],
  ['image pull', () => images().then((m) => m.definePull)],
  ['image import', () => images().then((m) => m.defineImport)],
  ['image load', () => images().then((m) => m.defineLoad)],
  ['image save', () => images().then((m) => m.defineSave)],
  ['image rm|remove', () => images().then((m) => m.defineRmi)],
  ['image tag', () => images().then((m) => m.defineTag)],
  ['image inspect', () => system().then((m) => m.defineImageInspect)],
  ['image build', () => build().then((m) => m.defineBuild)],
  ['image push', () => registry().then((m) => m.definePush)],
  ['image history', () => history().then((m) => m.defineHistory)],
  ['image prune', () => prune().then((m) => m.defineImagePrune)],
  ['version', () => system().then((m) => m.defineVersion)],
  ['info', () => system().then((m) => m.defineInfo)],
  ['inspect', () => system().then((m) => m.defineInspect)],
  ['system', { description: 'Manage Docker' }],
  ['system info', () => system().then((m) => m.defineInfo)],
  ['system df', () => import('./system-df.js').then((m) => m.defineSystemDf)],
  ['system events', () => events().then((m) => m.defineEvents)],
  ['build', () => build().then((m) => m.defineBuild)],
  ['system prune', () => prune().then((m) => m.defineSystemPrune)],
  ['builder', { description: 'Manage builds' }],
  ['builder prune', () => prune().then((m) => m.defineBuilderPrune)],
  ['plugin', { description: 'Manage plugins' }],
  ['plugin ls|list', () => plugins().then((m) => m.definePluginLs)],
  ['plugin inspect', () => plugins().then((m) => m.definePluginInspect)],
  ['login', () => registry().then((m) => m.defineLogin)],
  ['logout', () => registry().then((m) => m.defineLogout)],
  ['push', () => registry().then((m) => m.definePush)],
  ['network', { description: 'Manage networks' }],
  ['network create', () => networks().then((m) => m.defineCreate)],
  ['network ls|list', () => networks().then((m) => m.defineLs)],
  ['network inspect', () => networks().then((m) => m.defineInspect)],
  ['network rm|remove', () => networks().then((m) => m.defineRm)],
  ['network prune', () => networks().then((m) => m.definePrune)],
  ['network connect', () => networks().then((m) => m.defineConnect)],
  ['network disconnect', () => networks().then((m) => m.defineDisconnect)],
  ['port', () => networks().then((m) => m.definePort)],
  ['events', () => events().then((m) => m.defineEvents)],
  ['stats', () => stats().then((m) => m.defineStats)],
  ['exec', () => exec().then((m) => m.defineExec)],
  ['volume', { description: 'Manage volumes' }],
  ['volume create', () => volumes().then((m) => m.defineCreate)],
  ['volume ls|list', () => volumes().then((m) => m.defineLs)],
  ['volume inspect', () => volumes().then((m) => m.defineInspect)],
  ['volume rm|remove', () => volumes().then((m) => m.defineRm)],
  ['volume prune', () => volumes().then((m) => m.definePrune)],
  ['cp', () => files().then((m) => m.defineCp)],
  ['diff', () => files().then((m) => m.defineDiff)],
  ['export', () => files().then((m) => m.defineExport)],
  ['commit', () => files().then((m) => m.defineCommit)],
  ['pause', () => files().then((m) => m.definePause)],
  ['unpause', () => files().then((m) => m.defineUnpause)],
  ['update', () => files().then((m) => m.defineUpdate)],
  ['context', { description: 'Manage contexts' }],
  ['context create', () => contexts().then((m) => m.defineContextCreate)],
  ['context inspect', () => contexts().then((m) => m.defineContextInspect)],
  ['context ls|list', () => contexts().then((m) => m.defineContextLs)],
  ['context rm|remove', () => contexts().then((m) => m.defineContextRm)],
  ['context show', () => contexts().then((m) => m.defineContextShow)],
  ['context use', () => contexts().then((m) => m.defineContextUse)],
  ['completion', { description: 'Generate the autocompletion script for the specified shell' }],
  ['completion bash', () => completion().then((m) => m.defineCompletionShell)],
  ['completion fish', () => completion().then((m) => m.defineCompletionShell)],
  ['completion zsh', () => completion().then((m) => m.defineCompletionShell)],
];

/** A row's path split up: the group (if any), the command's name and its aliases. */
export function splitPath(path: string): { group?: string; name: string; aliases: string[] } {
  const words = path.split(' ');
  const [name, ...aliases] = words[words.length - 1]!.split('|');
  return { group: words.length > 1 ? words[0] : undefined, name: name!, aliases };
}

/**
 * Index of the first argument after the global flags (argv.length if none). `valueFlags` are the
 * flags that take a value (`-H`, `--host`); short flags may be combined (`-DH host`, `-Hhost`).
 */
export function commandIndex(argv: string[], valueFlags: ReadonlySet<string>): number {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-') {
    const a = argv[i++];
    if (a!.startsWith('--')) {
      if (!a!.includes('=') && valueFlags.has(a!)) i++;
      continue;
    }
    for (let k = 1; k < a!.length; k++) {
      if (!valueFlags.has(`-${a![k]}`)) continue;
      if (k === a!.length - 1) i++;
      break;
    }
  }
  return i;
}

const matches = (row: CommandRow, group: string | undefined, word: string) => {
  const p = splitPath(row[0]);
  return p.group === group && (p.name === word || p.aliases.includes(word));
};

/**
 * The rows of COMMANDS that `argv` needs: the command it names (a group with the sub-command it
 * names), or, for help, no command or one wharf does not have, all of them; none for the version flag alone.
 */
export function rowsFor(argv: string[], valueFlags: ReadonlySet<string>): readonly CommandRow[] {
  // `wharf -v` alone prints the program's version and defines no command: spares it half its start.
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) return [];
  const i = commandIndex(argv, valueFlags);
  // -h/-v may hide in a cluster (-Dh): any global that could be one means the full program.
  const helpOrVersion = (a: string) => a === '--help' || a === '--version' || /^-[^-]*[hv]/.test(a);
  if (i >= argv.length || argv.slice(0, i).some(helpOrVersion)) return COMMANDS;
  const top = COMMANDS.find((r) => matches(r, undefined, argv[i]!));
  if (!top) return COMMANDS;
  if (typeof top[1] === 'function') return [top];
  const group = splitPath(top[0]).name;
  const sub = COMMANDS.find((r) => matches(r, group, argv[i + 1] ?? ''));
  return sub ? [top, sub] : [top, ...COMMANDS.filter((r) => splitPath(r[0]).group === group)];
}
