/**
 * `completion bash|zsh|fish`: a shell completion script generated from the command table
 * (commands.ts) and each command's options. Commander has no generator; this one completes
 * command names, sub-commands and flags, and leaves arguments to the shell's file completion.
 */
import { Command } from 'commander';
import { BIN, usage, type CliContext } from './cli-context.js';
import { COMMANDS, splitPath } from './commands.js';

/** Every command path (`''` for the top level, `container`, `container ls`, …) with its words and flags. */
export interface CompletionEntry {
  path: string;
  /** Sub-command names and aliases. */
  words: string[];
  /** Long and short flags. */
  flags: string[];
}

const flagsOf = (cmd: Command) => [...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)), '--help'];

/** Defines every row of the table on a scratch program (as `wharf --help` does) and lists the entries. */
export async function completionEntries(ctx: CliContext, globalFlags: string[]): Promise<CompletionEntry[]> {
  const defines = await Promise.all(COMMANDS.map(([, what]) => (typeof what === 'function' ? what() : Promise.resolve(undefined))));
  const root = new Command(BIN).enablePositionalOptions();
  const groups = new Map<string, Command>();
  const entries = new Map<string, CompletionEntry>([['', { path: '', words: [], flags: globalFlags }]]);
  COMMANDS.forEach(([path], n) => {
    const { group, name, aliases } = splitPath(path);
    const parent = group ? groups.get(group)! : root;
    const cmd = defines[n] ? defines[n](parent, ctx, name) : new Command(name).enablePositionalOptions();
    if (!defines[n]) {
      parent.addCommand(cmd);
      groups.set(name, cmd);
    }
    entries.get(group ?? '')!.words.push(name, ...aliases);
    for (const word of [name, ...aliases]) {
      const p = group ? `${group} ${word}` : word;
      entries.set(p, { path: p, words: [], flags: flagsOf(cmd) });
    }
  });
  return [...entries.values()];
}

/** A word list safe inside single quotes (command and flag names never contain quotes). */
const words = (list: string[]) => list.filter((w) => /^[\w|.:-]+$/.test(w)).join(' ');

export function bashScript(entries: CompletionEntry[], valueFlags: string[] = []): string {
  // keys are the command path after a dot: bash arrays have no empty key
  const table = entries.map((e) => `  ['.${e.path}']='${words([...e.words, ...e.flags])}'`).join('\n');
  return `# bash completion for ${BIN}: source <(${BIN} completion bash)
declare -gA __${BIN}_words=(
${table}
)
__${BIN}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in ${valueFlags.length ? `${valueFlags.join('|')}) ((i++)); continue ;; ` : ''}-*) continue ;; esac
    if [[ -n "\${__${BIN}_words[".\${key:+$key }$w"]+x}" ]]; then key="\${key:+$key }$w"; else break; fi
  done
  local candidates="\${__${BIN}_words[".$key"]}"
  if [[ "$cur" != -* ]]; then
    # sub-commands only; flags are offered after a dash, arguments by file completion
    local c list=()
    for c in $candidates; do [[ "$c" != -* ]] && list+=("$c"); done
    candidates="\${list[*]}"
  fi
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F __${BIN}_complete ${BIN}
`;
}

export function zshScript(entries: CompletionEntry[], valueFlags: string[] = []): string {
  return `#compdef ${BIN}
# zsh completion for ${BIN}: source <(${BIN} completion zsh), uses zsh's bash completion layer
autoload -U +X bashcompinit && bashcompinit
${bashScript(entries, valueFlags)}`;
}

export function fishScript(entries: CompletionEntry[]): string {
  const lines = [`# fish completion for ${BIN}: ${BIN} completion fish | source`, `complete -c ${BIN} -f`];
  const top = entries.find((e) => e.path === '')!;
  lines.push(`complete -c ${BIN} -n __fish_use_subcommand -a '${words(top.words)}'`);
  for (const e of entries) {
    const parts = e.path.split(' ');
    const cond = e.path === '' ? '__fish_use_subcommand' : parts.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    if (e.path !== '' && e.words.length) lines.push(`complete -c ${BIN} -n '${cond}' -a '${words(e.words)}'`);
    for (const f of e.flags) {
      if (!/^-[\w-]+$/.test(f)) continue;
      lines.push(`complete -c ${BIN} -n '${cond}' ${f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

export function defineCompletionShell(parent: Command, ctx: CliContext, name: string): Command {
  const shell = name as keyof typeof SCRIPTS;
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, name)
    .description(`Generate the autocompletion script for ${name}`)
    .action(async () => {
      let root: Command = cmd;
      while (root.parent) root = root.parent;
      const valueFlags = root.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
      ctx.out.write(SCRIPTS[shell](await completionEntries(ctx, flagsOf(root)), valueFlags));
    });
  return cmd;
}
