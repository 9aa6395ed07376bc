/**
 * The /exec endpoints: Docker's request and response shapes (api/types/container ExecCreateRequest,
 * ExecStartRequest, ExecInspectResponse) and the backend the routes call.
 */
import type { AttachIO } from './backend.js';

/** POST /containers/{id}/exec body. */
export interface ExecCreateRequest {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStderr?: boolean;
  AttachStdout?: boolean;
  /** Docker accepts and ignores it (the client acts on it). */
  Detach?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[] | null;
}

/** POST /exec/{id}/start body. */
export interface ExecStartRequest {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** GET /exec/{id}/json, fields in Docker's order. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  /** null until the process has exited. */
  ExitCode: number | null;
  ProcessConfig: {
    tty: boolean;
    entrypoint: string;
    arguments: string[];
    privileged: boolean;
    user?: string;
  };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  /** The detach keys as bytes, base64 (Go's encoding of []byte). */
  DetachKeys: string;
  Pid: number;
}

export interface ExecStartOptions {
  detach: boolean;
  /** The start request's Tty: raw output (true) or stdcopy framing, whatever the exec was created with (Docker). */
  tty: boolean;
  /** [height, width] for a TTY, from the start request (or, unset, the create request). */
  consoleSize?: [number, number];
}

/** A started-on-run exec session on a hijacked connection. */
export interface ExecSession {
  /** Raw stream (true) or stdcopy framing. */
  tty: boolean;
  /** Whether the client's input is relayed; otherwise the route drains it. */
  stdin: boolean;
  /**
   * Runs the process and relays its stdio; resolves when its output ends (its exit code is
   * recorded by then), the client detaches or goes away. Errors are Docker's texts for the
   * route to write into the stream.
   */
  run(io: AttachIO): Promise<void>;
}

export interface ExecBackend {
  /** Conflict `container <id> is not running` / `Container <ref> is paused, unpause the container before exec`. */
  create(container: string, req: ExecCreateRequest): Promise<{ Id: string }>;
  /**
   * Checks the exec and its container (HTTP errors). Detached: starts it and resolves with
   * undefined once it runs. Otherwise resolves with the session to run on the hijacked connection.
   */
  start(id: string, opts: ExecStartOptions): Promise<ExecSession | undefined>;
  resize(id: string, height: number, width: number): Promise<void>;
  inspect(id: string): Promise<ExecInspect>;
  /** IDs of the container's exec instances that have not ended (Docker's ExecIDs). */
  idsFor(containerId: string): string[];
}
