/** Messages between the daemon (spawner.ts) and its spawn helper (spawn-server.ts). */

export interface SpawnRequest {
  id: number;
  file: string;
  args: string[];
  cwd?: string;
  input?: string | Buffer;
  /**
   * A long-lived process (conmon): started detached with stdin and stdout on /dev/null and
   * `pipes` pipes from fd 2 on, whose daemon ends are handed back (one message each, the
   * descriptor as the message's handle) instead of waiting for its exit. `env` replaces the
   * helper's environment.
   */
  detached?: { pipes: number; env: Record<string, string> };
}

/** A detached process's pipe end, sent with the descriptor as the message's handle. */
export interface SpawnPipe {
  id: number;
  /** The child's descriptor this pipe is (2, 3, …). */
  fd: number;
}

export interface SpawnReply {
  id: number;
  /** Exit status; null when the tool could not be started or was killed by a signal. */
  code: number | null;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
  /** Set when the tool could not be started at all. */
  spawnError?: { code?: string; message: string };
  /** A detached process: its pid, once it runs (its pipes follow as SpawnPipe messages). */
  pid?: number;
}
