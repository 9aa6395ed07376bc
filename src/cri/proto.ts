/**
 * The CRI protocol (k8s.io/cri-api runtime.v1), loaded from the vendored official proto. The loader
 * options must match scripts/gen-cri-types.sh, which generates the types in src/cri/gen/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './gen/api.js';

const API_PROTO = 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

/**
 * The checkout's proto/ dir: the nearest one above this module, which is dist/src/cri/proto.js as
 * tsc builds it or dist/daemon/main.js in the daemon's bundle (scripts/bundle-daemon.mjs).
 */
function protoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, API_PROTO))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cri: ${API_PROTO} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let loaded: ProtoGrpcType | undefined;

/** Field names as in the proto (snake_case), int64 as decimal strings, enums by name. */
export function criProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(API_PROTO, {
      includeDirs: [protoRoot()],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}
