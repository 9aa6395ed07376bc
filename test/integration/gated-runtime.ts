/**
 * runc behind a gate, as a daemon's default runtime: a runc subcommand (`kill`, `state`, `list`…)
 * whose gate is closed notes that it runs (`reached(verb)`) and waits until the gate opens, so a
 * test can change things under a call the daemon is making; one set to fail answers with a runc
 * error line. Each gate starts open.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

export interface GatedRuntime {
  /** The daemon config that makes the wrapper the default runtime (its name is not `runc`, so every kill goes through it). */
  daemonConfig: Record<string, unknown>;
  close(verb: string): Promise<void>;
  open(verb: string): Promise<void>;
  /** Whether a call of `verb` has reached the closed gate since it was closed (or failed since it was set to). */
  reached(verb: string): boolean;
  /** Makes every call of `verb` fail with a runc error line (true) or run again (false). */
  fail(verb: string, on: boolean): Promise<void>;
  remove(): Promise<void>;
}

async function gatedRuntime(name: string): Promise<GatedRuntime> {
  const dir = `/tmp/wharf-${name}-gate-${process.pid}`;
  await mkdir(dir, { recursive: true });
  const wrapper = join(dir, 'gated-runc');
  // The subcommand is the first argument that is neither an option nor an option's value.
  await writeFile(
    wrapper,
    `#!/bin/sh
verb=
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in
    --*=*) ;;
    --root|--log|--log-format|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) verb=$a; break ;;
  esac
done
if [ -n "$verb" ] && [ -e "${dir}/$verb-fail" ]; then
  : > "${dir}/$verb-reached"
  echo 'time="2026-01-01T00:00:00Z" level=error msg="'"$verb"' refused by the test"' >&2
  exit 1
fi
if [ -n "$verb" ] && [ -e "${dir}/$verb-closed" ]; then
  : > "${dir}/$verb-reached"
  while [ -e "${dir}/$verb-closed" ]; do sleep 0.02; done
fi
exec runc "$@"
`,
  );
  await chmod(wrapper, 0o755);
  return {
    daemonConfig: { 'default-runtime': 'gated', runtimes: { gated: { path: wrapper } } },
    async close(verb) {
      await rm(join(dir, `${verb}-reached`), { force: true });
      await writeFile(join(dir, `${verb}-closed`), '');
    },
    open: (verb) => rm(join(dir, `${verb}-closed`), { force: true }),
    reached: (verb) => existsSync(join(dir, `${verb}-reached`)),
    async fail(verb, on) {
      await rm(join(dir, `${verb}-reached`), { force: true });
      await (on ? writeFile(join(dir, `${verb}-fail`), '') : rm(join(dir, `${verb}-fail`), { force: true }));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A daemon (busybox loaded, `config` added to its own) whose default runtime is a gated runc; cleanup() ends both. */
export async function startGatedDaemon(name: string, config: Record<string, unknown> = {}): Promise<{ d: Daemon; gate: GatedRuntime; cleanup(): Promise<void> }> {
  const gate = await gatedRuntime(name);
  const d = await startDaemon({ config: { ...config, ...gate.daemonConfig } });
  await loadBusybox(d);
  return {
    d,
    gate,
    async cleanup() {
      await d.cleanup();
      await gate.remove();
    },
  };
}
