/** Formatting and config helpers of the classic builder: Go's %q/%v shapes moby's step comments use, config copies, the cache key. */
import type { ContainerConfig } from '../api/types.js';

/** Go's %q of a []string: `["a" "b"]`. */
export const goQuoteList = (l: readonly string[] | null | undefined) => `[${(l ?? []).map((s) => JSON.stringify(s)).join(' ')}]`;
/** Go's %v of a []string: `[a b]`. */
export const goList = (l: readonly string[]) => `[${l.join(' ')}]`;

export function copyConfig(c: ContainerConfig, over: Partial<ContainerConfig> = {}): ContainerConfig {
  const out: ContainerConfig = JSON.parse(JSON.stringify(c)) as ContainerConfig;
  return Object.assign(out, over);
}

/** The parts of a config the cache compares (moby's image/cache compare). */
export function cacheKey(c: ContainerConfig): string {
  const sortObj = (o: Record<string, unknown> | null | undefined) => (o ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) : {});
  return JSON.stringify([
    c.Cmd ?? [],
    c.Entrypoint ?? [],
    c.Env ?? [],
    sortObj(c.Labels),
    sortObj(c.ExposedPorts),
    sortObj(c.Volumes),
    c.User ?? '',
    c.WorkingDir ?? '',
    c.OnBuild ?? [],
    c.Shell ?? [],
    c.StopSignal ?? '',
    c.Healthcheck ?? null,
    c.Hostname ?? '',
    c.Domainname ?? '',
    !!c.OpenStdin,
  ]);
}

