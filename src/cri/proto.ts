/**
 * The CRI protocol (k8s.io/cri-api runtime.v1), loaded from the vendored official proto. The loader
 * options must match scripts/gen-cri-types.sh, which generates the types in src/cri/gen/.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './gen/api.js';

const PROTO_ROOT = fileURLToPath(new URL('../../../proto', import.meta.url));
const API_PROTO = 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

let loaded: ProtoGrpcType | undefined;

/** Field names as in the proto (snake_case), int64 as decimal strings, enums by name. */
export function criProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(API_PROTO, {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}
