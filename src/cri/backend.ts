/**
 * What the CRI front end needs from the engine. `cri/` (like `api/`) calls these interfaces;
 * `daemon/cri/` implements them over the same stores, runtime and supervisor as the Docker API.
 */
import type * as grpc from '@grpc/grpc-js';
import type { ImageServiceHandlers } from './gen/runtime/v1/ImageService.js';
import type { RuntimeServiceHandlers } from './gen/runtime/v1/RuntimeService.js';

/** A unary RPC as a promise: the request as decoded, the response as sent; `signal` aborts when the caller goes away. */
export type UnaryMethod<H> =
  H extends grpc.handleUnaryCall<infer Req, infer Res> ? (req: Req, signal: AbortSignal) => Promise<Res> : never;

/** A generated handler interface without grpc's `[name: string]` index signature. */
type Named<S> = { [K in keyof S as string extends K ? never : number extends K ? never : K]: S[K] };

type UnaryMethods<S, N = Named<S>> = {
  [K in keyof N as N[K] extends grpc.handleUnaryCall<infer _Req, infer _Res> ? K : never]: UnaryMethod<N[K]>;
};

/**
 * The unary RPCs of runtime.v1.RuntimeService. Methods left out answer UNIMPLEMENTED, which is
 * what kubelet expects of a runtime without them (checkpointing, evented PLEG metrics).
 */
export type CriRuntimeBackend = Partial<UnaryMethods<RuntimeServiceHandlers>>;

/** The unary RPCs of runtime.v1.ImageService. */
export type CriImageBackend = Partial<UnaryMethods<ImageServiceHandlers>>;

/** A call that ran out of the time its request set (ExecSync's timeout): gRPC DEADLINE_EXCEEDED. */
export class DeadlineExceededError extends Error {}
