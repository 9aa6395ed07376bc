import { homedir } from 'node:os';
import { join } from 'node:path';

/** The client config dir: $WHARF_CONFIG, $DOCKER_CONFIG or ~/.docker (kept apart from docker-config.ts so that start-up loads no fs/promises). */
export function configDir(): string {
  return process.env.WHARF_CONFIG || process.env.DOCKER_CONFIG || join(homedir(), '.docker');
}
