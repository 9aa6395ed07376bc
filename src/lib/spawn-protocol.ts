/** Messages between the daemon (spawner.ts) and its spawn helper (spawn-server.ts). */

export interface SpawnRequest {
  id: number;
  file: string;
  args: string[];
  cwd?: string;
  input?: string | Buffer;
}

export interface SpawnReply {
  id: number;
  /** Exit status; null when the tool could not be started or was killed by a signal. */
  code: number | null;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
  /** Set when the tool could not be started at all. */
  spawnError?: { code?: string; message: string };
}
