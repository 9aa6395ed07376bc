/**
 * The CRI endpoint: runtime.v1 RuntimeService and ImageService over gRPC on a unix socket, beside
 * the Docker API. Each unary RPC calls the matching backend method; Exec, Attach and PortForward
 * hand out a URL of the streaming server.
 */
import { chmod, rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { EngineError } from '../lib/errors.js';
import { DeadlineExceededError, type CriImageBackend, type CriRuntimeBackend } from './backend.js';
import { criProto } from './proto.js';
import type { StreamingServer } from './streaming/types.js';

export interface CriServerOptions {
  socketPath: string;
  runtime: CriRuntimeBackend;
  images: CriImageBackend;
  streaming: StreamingServer;
  log: (msg: string) => void;
}

export interface CriServer {
  close(): Promise<void>;
}

const STATUS_OF_KIND: Record<string, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  InvalidParameter: grpc.status.INVALID_ARGUMENT,
  Conflict: grpc.status.FAILED_PRECONDITION,
  NotModified: grpc.status.FAILED_PRECONDITION,
  Forbidden: grpc.status.PERMISSION_DENIED,
  Unavailable: grpc.status.UNAVAILABLE,
  NotImplemented: grpc.status.UNIMPLEMENTED,
};

export function grpcError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof DeadlineExceededError) return { code: grpc.status.DEADLINE_EXCEEDED, details: err.message };
  if (err instanceof EngineError) return { code: STATUS_OF_KIND[err.kind] ?? grpc.status.UNKNOWN, details: err.message };
  return { code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

type AnyUnary = (req: unknown, signal: AbortSignal) => Promise<unknown>;

/** Handlers for every RPC of a service: the backend's where it has one, UNIMPLEMENTED otherwise. */
function handlersFor(
  service: grpc.ServiceDefinition,
  backend: Record<string, AnyUnary | undefined>,
  log: (msg: string) => void,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(service)) {
    const method = backend[name];
    if (def.requestStream || def.responseStream || !method) {
      handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
        const err = { code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by wharf` };
        if (callback) callback(err);
        else (call as grpc.ServerWritableStream<unknown, unknown>).destroy(Object.assign(new Error(err.details), err));
      };
      continue;
    }
    handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      method(call.request, abort.signal).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (!(err instanceof EngineError) && !(err instanceof DeadlineExceededError)) log(`cri ${name}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
          callback(grpcError(err));
        },
      );
    };
  }
  return handlers;
}

export async function startCriServer(opts: CriServerOptions): Promise<CriServer> {
  const proto = criProto().runtime.v1;
  const streamingMethods: Record<string, AnyUnary> = {
    Exec: (req) => opts.streaming.getExec(req as Parameters<StreamingServer['getExec']>[0]),
    Attach: (req) => opts.streaming.getAttach(req as Parameters<StreamingServer['getAttach']>[0]),
    PortForward: (req) => opts.streaming.getPortForward(req as Parameters<StreamingServer['getPortForward']>[0]),
  };
  const server = new grpc.Server();
  server.addService(
    proto.RuntimeService.service,
    handlersFor(proto.RuntimeService.service, { ...(opts.runtime as Record<string, AnyUnary>), ...streamingMethods }, opts.log),
  );
  server.addService(proto.ImageService.service, handlersFor(proto.ImageService.service, opts.images as Record<string, AnyUnary>, opts.log));

  await rm(opts.socketPath, { force: true });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`unix://${opts.socketPath}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  await chmod(opts.socketPath, 0o660);
  opts.log(`CRI endpoint on unix://${opts.socketPath}`);

  return {
    async close() {
      server.forceShutdown(); // the daemon is going down: in-flight calls end with it
      await opts.streaming.close();
      await rm(opts.socketPath, { force: true });
    },
  };
}
