/** Where the daemon listens: `unix:///path` or `tcp://host:port`. */
export type DaemonAddress =
  | { kind: 'unix'; socketPath: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string };

export const DEFAULT_HOST = 'unix:///run/wharf.sock';

/** -H/--host, then WHARF_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.WHARF_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}

export function parseHost(raw: string): DaemonAddress {
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (!socketPath) throw new Error(`invalid bind address (${raw}): empty socket path`);
    return { kind: 'unix', socketPath, url: raw };
  }
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw, url: `unix://${raw}` };
  let rest = raw;
  if (raw.startsWith('tcp://')) rest = raw.slice('tcp://'.length);
  else if (raw.startsWith('http://')) rest = raw.slice('http://'.length);
  else if (raw.includes('://')) throw new Error(`protocol not available: ${raw}`);
  rest = rest.replace(/\/+$/, '');
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`invalid bind address format: ${raw}`);
  const host = (m[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : 2375;
  return { kind: 'tcp', host, port, url: `tcp://${m[1] || '127.0.0.1'}:${port}` };
}
