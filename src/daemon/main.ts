#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node
/**
 * wharfd: loads the config, takes the pid file, starts the daemon, and on SIGTERM/SIGINT shuts
 * down cleanly. Containers keep running across a shutdown (conmon supervises them).
 * The shebang bounds glibc's malloc arenas as the systemd unit does (contrib/systemd): glibc reads
 * MALLOC_ARENA_MAX only at process start, and a re-exec here would cost a restart one more node start.
 */
import { readFile, unlink, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenAddresses, resolveSocketGid, type ApiTls } from '../api/server.js';
import { loadApiTls } from './api-tls.js';
import { loadDaemonConfig } from './config.js';
import { insecureTcpWarnings } from './tcp-policy.js';
import { startDaemon } from './daemon.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { canReturnFreedMemory } from '../lib/malloc-trim.js';
import { useSpawnHelper } from '../lib/spawner.js';
import { keepYoungGenerationSmall } from '../lib/young-generation.js';

const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} wharfd: ${msg}\n`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takePidfile(path: string): Promise<void> {
  const existing = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (existing && existing !== process.pid && alive(existing)) {
    throw new Error(`pid file found, ensure wharfd is not running or delete ${path}`);
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, String(process.pid));
}

/**
 * Last-resort safety net, not error handling: every request and stream handles its own errors,
 * and one that escapes is a bug. It is logged loudly (tests look for "BUG:") and the daemon goes
 * on serving its other clients, as Go's http server survives a handler's panic.
 */
function installSafetyNet(): void {
  const report = (what: string, err: unknown) =>
    log(`BUG: ${what} (the daemon goes on): ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.on('unhandledRejection', (reason) => report('unhandled promise rejection', reason));
  process.on('uncaughtException', (err) => report('uncaught exception', err));
}

async function main(): Promise<void> {
  keepYoungGenerationSmall();
  // Until the daemon is up, a SIGHUP has nothing to reload (and must not end the process).
  process.on('SIGHUP', () => log('SIGHUP ignored: the daemon is still starting'));
  let cfg;
  let apiTls: ApiTls | undefined;
  try {
    cfg = await loadDaemonConfig(process.argv.slice(2));
    apiTls = await loadApiTls(cfg);
  } catch (err) {
    process.stderr.write(`unable to configure the wharf daemon: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('wharfd needs to be started with root privileges\n');
    process.exit(1);
  }
  // Listener settings are checked before anything starts (dockerd's loadListeners).
  const firstSocket = cfg.hosts.find((h) => h.startsWith('unix://'))?.slice('unix://'.length);
  let socketGid: number | undefined;
  try {
    if (firstSocket) socketGid = await resolveSocketGid(cfg.group, log, firstSocket);
    // fd:// names sockets systemd passed; the environment that says so is read (and cleared) now.
    listenAddresses(cfg.hosts);
  } catch (err) {
    process.stderr.write(`failed to load listeners: ${(err as Error).message}\n`);
    process.exit(1);
  }
  await takePidfile(cfg.pidfile);
  installSafetyNet();
  // Started now, while the daemon is small (and after the socket-activation variables are gone).
  if (!useSpawnHelper()) log('the spawn helper wharf-spawn is not built (npm run build): tools are spawned by the daemon itself, which is slower');
  if (!canReturnFreedMemory()) log('the addon malloc-trim.node is not built (npm run build): memory freed after a pull or a burst of requests stays resident');
  // As dockerd: a TCP listener without verified client certificates is served, after warnings
  // and a deliberate pause at start-up.
  for (const warning of await insecureTcpWarnings(cfg)) {
    for (const line of warning.lines) log(`level=warning msg=${JSON.stringify(line)} host=${JSON.stringify(warning.host)}`);
    await sleep(warning.delayMs);
  }
  const daemon = await startDaemon(cfg, log, { apiTls, socketGid });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}, shutting down (containers keep running)`);
    await daemon.shutdown().catch((err) => log(`shutdown: ${err}`));
    await unlink(cfg.pidfile).catch(() => {});
    process.exit(0);
  };
  process.on('SIGUSR2', () => log(`state dump: ${JSON.stringify(daemon.stateDump())}`));
  // As dockerd: SIGHUP reads daemon.json (and the flags) again and applies the reloadable keys;
  // a bad file keeps the configuration in force and says why.
  let reloading = Promise.resolve();
  process.removeAllListeners('SIGHUP');
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      try {
        const next = await loadDaemonConfig(process.argv.slice(2));
        log(`Reloaded configuration: ${JSON.stringify(daemon.reload(next))}`);
      } catch (err) {
        log(`Error reconfiguring the daemon: unable to configure the wharf daemon with file ${cfg.configFile}: ${err instanceof Error ? err.message : err}`);
      }
    });
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  daemon.restored.catch(async (err) => {
    log(`restoring containers failed: ${err instanceof Error ? err.stack ?? err.message : err}`);
    await daemon.shutdown().catch(() => {});
    process.exit(1);
  });
}

main().catch((err) => {
  process.stderr.write(`wharfd: ${err instanceof Error ? err.stack ?? err.message : err}\n`);
  process.exit(1);
});
