/** POST /build: what the route hands to the build backend (daemon/build.ts implements it). */
import type { Readable } from 'node:stream';
import type { RegistryAuth } from './backend.js';
import type { ProgressMessage } from './types.js';

export interface BuildOptions {
  /** Path of the Dockerfile inside the context ('' = Dockerfile). */
  dockerfile: string;
  tags: string[];
  /** `--build-arg`; null = declared without a value. */
  buildArgs: Map<string, string | null>;
  target: string;
  noCache: boolean;
  pull: boolean;
  /** Remove intermediate containers after a successful step (Docker's default). */
  rm: boolean;
  /** Remove them always, also after a failed step. */
  forceRm: boolean;
  labels: Record<string, string>;
  networkMode: string;
  extraHosts: string[];
  quiet: boolean;
  platform: string;
  cacheFrom: string[];
  /** An http(s) URL of the context (a tar, possibly compressed, or a Dockerfile); the body is then unused. */
  remote?: string;
  /** X-Registry-Config: credentials by registry, for pulling base images. */
  registryConfig?: Record<string, RegistryAuth>;
  shmSize?: number;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpuSetCpus?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
}

/** A build error the stream reports with a code (a failing RUN's exit status). */
export interface BuildStepError extends Error {
  code?: number;
}

export interface BuildBackend {
  /**
   * Builds from `context` (a tar, possibly compressed, or a Dockerfile alone). Messages are
   * Docker's: `stream` lines, `aux` {ID}, `status` of pulls. Aborting `signal` (the client went
   * away) stops the build and removes what it made. Errors are thrown (with `code` for RUN).
   */
  build(context: Readable, opts: BuildOptions, signal: AbortSignal): AsyncIterable<ProgressMessage>;
}
