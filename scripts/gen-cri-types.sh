#!/usr/bin/env bash
# Regenerates the TypeScript types of the CRI protocol (src/cri/gen/) from the vendored official
# proto (proto/k8s.io/cri-api, v1 of cri-api as vendored by cri-tools v1.29.0). The options must
# match the loader's in src/cri/proto.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/cri/gen
npx proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs \
  --grpcLib=@grpc/grpc-js --importFileExtension=.js -I proto -O src/cri/gen \
  k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
