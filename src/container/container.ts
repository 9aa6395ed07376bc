/**
 * The container record: what the daemon keeps per container and persists as
 * containers/<id>/config.v2.json (everything but HostConfig) and hostconfig.json.
 */
import type { ContainerConfig, HostConfig, NetworkSettings, MountPoint } from '../api/types.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  /** Set while `rm` is under way (Docker's RemovalInProgress). */
  RemovalInProgress: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  /** RFC3339Nano; Docker's zero time "0001-01-01T00:00:00Z" when never set. */
  StartedAt: string;
  FinishedAt: string;
  /** Present only for containers with a healthcheck (Docker omits it otherwise). */
  Health?: HealthState | null;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  /** The last few probe results, oldest first. */
  Log: HealthcheckResult[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface ContainerRecord {
  ID: string;
  /** With Docker's leading slash: "/name". */
  Name: string;
  Created: string;
  /** Entrypoint + Cmd split as Docker reports them. */
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  /** The image ID (sha256:…). */
  Image: string;
  State: ContainerState;
  NetworkSettings: NetworkSettings;
  MountPoints: Record<string, MountPoint>;
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  RestartCount: number;
  /** Set when the user stopped the container, so `unless-stopped` and `always` know not to restart it at daemon start. */
  HasBeenManuallyStopped: boolean;
  /** Set once it has been started at least once (restart policies at daemon start). */
  HasBeenStartedBefore: boolean;
  Driver: string;
  Platform: string;
  /** ID of conmon's own process while it supervises the container (live restore). */
  ConmonPid?: number;
  HostConfig: HostConfig;
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    RemovalInProgress: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
