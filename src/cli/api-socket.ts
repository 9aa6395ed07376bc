/**
 * `run/create --use-api-socket` as the Docker CLI 28 does it: the daemon's socket bind-mounted at
 * /var/run/docker.sock, and, unless the container's env already sets DOCKER_CONFIG, the user's
 * registry credentials (DOCKER_AUTH_CONFIG, else config.json's auths) written after create into
 * /run/secrets/docker/config.json (0600) with DOCKER_CONFIG=/run/secrets/docker. The Docker CLI
 * mounts /var/run/docker.sock of the host whatever daemon it talks to; wharf mounts the socket it
 * is connected to (wharfd's socket is not there), and /var/run/docker.sock only over tcp://.
 */
import { Readable } from 'node:stream';
import type { EngineClient } from '../client/engine-client.js';
import { TarWriter } from '../lib/tar-writer.js';
import { loadConfig, type AuthEntry } from './docker-config.js';
import type { ContainerSpec } from './run-options.js';

const CONFIG_PATH = '/run/secrets/docker/config.json';
const SOCKET_TARGET = '/var/run/docker.sock';

/** The credentials to inject: DOCKER_AUTH_CONFIG's auths when it has some, else the config file's. */
async function readCredentials(env: NodeJS.ProcessEnv): Promise<Record<string, AuthEntry>> {
  const raw = env.DOCKER_AUTH_CONFIG;
  if (raw) {
    let parsed: { auths?: Record<string, AuthEntry> };
    try {
      parsed = JSON.parse(raw) as { auths?: Record<string, AuthEntry> };
    } catch (err) {
      throw new Error(`resolving credentials failed: failed to read credentials from DOCKER_AUTH_CONFIG: ${(err as Error).message}`);
    }
    if (parsed.auths && Object.keys(parsed.auths).length) return parsed.auths;
  }
  return (await loadConfig()).auths ?? {};
}

/** The config file Docker's configfile.SaveToWriter writes for these credentials (auth only). */
function configJson(creds: Record<string, AuthEntry>): string {
  const auths: Record<string, AuthEntry> = {};
  for (const [server, a] of Object.entries(creds)) {
    const auth = a.auth || (a.username || a.password ? Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64') : undefined);
    auths[server] = { ...(auth ? { auth } : {}), ...(a.identitytoken ? { identitytoken: a.identitytoken } : {}) };
  }
  return JSON.stringify({ auths }, null, '\t');
}

/** Adds the socket mount and DOCKER_CONFIG to the spec; returns what to inject after create, if anything. */
export async function prepareApiSocket(spec: ContainerSpec, clientHost: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const source = clientHost.startsWith('unix://') ? clientHost.slice('unix://'.length) : SOCKET_TARGET;
  spec.hostConfig.Mounts = [...(spec.hostConfig.Mounts ?? []), { Type: 'bind', Source: source, Target: SOCKET_TARGET, BindOptions: {} }];
  const containerEnv = spec.config.Env ?? [];
  if (containerEnv.some((e) => e.startsWith('DOCKER_CONFIG='))) return undefined;
  const creds = await readCredentials(env);
  if (!Object.keys(creds).length) return undefined;
  spec.config.Env = [...containerEnv, 'DOCKER_CONFIG=/run/secrets/docker'];
  return configJson(creds);
}

/** PUT /containers/{id}/archive?path=/ with the config file, as the Docker CLI's copyDockerConfigIntoContainer. */
export async function injectDockerConfig(client: EngineClient, id: string, config: string): Promise<void> {
  const body = Buffer.from(config + '\n');
  const tar = new TarWriter();
  const done = (async () => {
    await tar.add({ name: CONFIG_PATH, type: 'file', mode: 0o600, uid: 0, gid: 0, size: body.length, mtime: 0 }, body);
    tar.finish();
  })();
  try {
    const res = await client.request('PUT', `/containers/${encodeURIComponent(id)}/archive`, { query: { path: '/' }, stream: Readable.from(tar) });
    res.resume();
    await done;
  } catch (err) {
    throw new Error(`injecting docker config.json into container failed: copying config.json into container failed: ${(err as Error).message}`);
  }
}
