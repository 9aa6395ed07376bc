/**
 * The messages of BuildKit's control API, its frontend gateway (LLBBridge) and the session's file
 * sync and secrets, as the Docker CLI's buildx plugin sends them to /grpc and serves them on /session.
 *
 * Written for wharfd: only the fields it reads or writes, with BuildKit's field numbers and wire
 * types (moby/buildkit api/services/control, frontend/gateway/pb; tonistiigi/fsutil types). A
 * nested message wharfd never looks into (an LLB definition, a cache or source policy) is declared
 * as `bytes`, which reads the same length-delimited field without decoding it. Field names keep
 * BuildKit's spelling so a packet dump reads the same.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package wharf.buildkit;

message Timestamp { int64 seconds = 1; int32 nanos = 2; }

message SolveRequest {
  string Ref = 1; bytes Definition = 2; string Exporter = 3; map<string, string> ExporterAttrs = 4;
  string Session = 5; string Frontend = 6; map<string, string> FrontendAttrs = 7; bytes Cache = 8;
  repeated string Entitlements = 9; map<string, bytes> FrontendInputs = 10; bool Internal = 11;
}
message SolveResponse { map<string, string> ExporterResponse = 1; }
message StatusRequest { string Ref = 1; }
message Vertex {
  string digest = 1; repeated string inputs = 2; string name = 3; bool cached = 4;
  Timestamp started = 5; Timestamp completed = 6; string error = 7;
}
message VertexStatus {
  string ID = 1; string vertex = 2; string name = 3; int64 current = 4; int64 total = 5;
  Timestamp timestamp = 6; Timestamp started = 7; Timestamp completed = 8;
}
message VertexLog { string vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
message VertexWarning { string vertex = 1; int64 level = 2; bytes short = 3; repeated bytes detail = 4; string url = 5; }
message StatusResponse {
  repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2; repeated VertexLog logs = 3; repeated VertexWarning warnings = 4;
}
message Platform { string Architecture = 1; string OS = 2; string Variant = 3; }
message GCPolicy { bool all = 1; int64 keepDuration = 2; int64 keepBytes = 3; repeated string filters = 4; }
message BuildkitVersion { string package = 1; string version = 2; string revision = 3; }
message WorkerRecord {
  string ID = 1; map<string, string> Labels = 2; repeated Platform platforms = 3; repeated GCPolicy GCPolicy = 4;
  BuildkitVersion BuildkitVersion = 5;
}
message ListWorkersRequest { repeated string filter = 1; }
message ListWorkersResponse { repeated WorkerRecord record = 1; }
message InfoRequest {}
message InfoResponse { BuildkitVersion buildkitVersion = 1; }
message DiskUsageRequest { repeated string filter = 1; }
message UsageRecord {
  string ID = 1; bool Mutable = 2; bool InUse = 3; int64 Size = 4; Timestamp CreatedAt = 6; Timestamp LastUsedAt = 7;
  int64 UsageCount = 8; string Description = 9; string RecordType = 10; bool Shared = 11;
}
message DiskUsageResponse { repeated UsageRecord record = 1; }
message PruneRequest { repeated string filter = 1; bool all = 2; int64 keepDuration = 3; int64 keepBytes = 4; }

message APICap { string ID = 1; bool Enabled = 2; bool Deprecated = 3; string DisabledReason = 4; string DisabledReasonMsg = 5; string DisabledAlternative = 6; }
message PingRequest {}
message PongResponse { repeated APICap FrontendAPICaps = 1; repeated APICap LLBCaps = 2; repeated WorkerRecord Workers = 3; }
message Ref { string id = 1; bytes def = 2; }
message RefMap { map<string, Ref> refs = 1; }
message Result {
  oneof result { string refDeprecated = 1; bytes refsDeprecated = 2; Ref ref = 3; RefMap refs = 4; }
  map<string, bytes> metadata = 10;
}
message GatewaySolveRequest {
  bytes Definition = 1; string Frontend = 2; map<string, string> FrontendOpt = 3; bool allowResultReturn = 5;
  bool allowResultArrayRef = 6; bool Final = 10; bytes ExporterAttr = 11; map<string, bytes> FrontendInputs = 13; bool Evaluate = 14;
}
message GatewaySolveResponse { string ref = 1; Result result = 3; }
message RpcStatus { int32 code = 1; string message = 2; }
message ReturnRequest { Result result = 1; RpcStatus error = 2; }
message ReturnResponse {}

message Stat {
  string path = 1; uint32 mode = 2; uint32 uid = 3; uint32 gid = 4; int64 size = 5; int64 modTime = 6;
  string linkname = 7; int64 devmajor = 8; int64 devminor = 9; map<string, bytes> xattrs = 10;
}
message Packet { int32 type = 1; Stat stat = 2; uint32 ID = 3; bytes data = 4; }

message BytesMessage { bytes data = 1; }
message GetSecretRequest { string ID = 1; map<string, string> annotations = 2; }
message GetSecretResponse { bytes data = 1; }
message CheckAgentRequest { string ID = 1; }
message CheckAgentResponse {}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;

/** One message type: encode from a plain object, decode to one (int64 as numbers, defaults filled in). */
export interface MessageCodec<T> {
  encode(value: T): Buffer;
  decode(buf: Uint8Array): T;
}

function codec<T>(name: string): MessageCodec<T> {
  const type = root.lookupType(`wharf.buildkit.${name}`);
  return {
    encode: (value) => Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish()),
    decode: (buf) => type.toObject(type.decode(buf), { longs: Number, defaults: true, arrays: true, objects: true, oneofs: true }) as T,
  };
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface SolveRequest {
  Ref: string;
  Exporter: string;
  ExporterAttrs: Record<string, string>;
  Session: string;
  Frontend: string;
  FrontendAttrs: Record<string, string>;
  FrontendInputs: Record<string, Buffer>;
  /** What the client allows the build (`--allow network.host`…); absent from older clients' requests. */
  Entitlements?: string[];
}
export interface SolveResponse {
  ExporterResponse: Record<string, string>;
}
export interface StatusRequest {
  Ref: string;
}
export interface Vertex {
  digest: string;
  inputs?: string[];
  name: string;
  cached?: boolean;
  started?: Timestamp;
  completed?: Timestamp;
  error?: string;
}
export interface VertexStatus {
  ID: string;
  vertex: string;
  name?: string;
  current: number;
  total: number;
  timestamp: Timestamp;
  started?: Timestamp;
  completed?: Timestamp;
}
export interface VertexLog {
  vertex: string;
  timestamp: Timestamp;
  stream: number;
  msg: Buffer;
}
export interface VertexWarning {
  vertex: string;
  level: number;
  short: Buffer;
  detail?: Buffer[];
  url?: string;
}
export interface StatusResponse {
  vertexes: Vertex[];
  statuses: VertexStatus[];
  logs: VertexLog[];
  warnings: VertexWarning[];
}
export interface Platform {
  Architecture: string;
  OS: string;
  Variant?: string;
}
export interface BuildkitVersion {
  package: string;
  version: string;
  revision: string;
}
export interface WorkerRecord {
  ID: string;
  Labels: Record<string, string>;
  platforms: Platform[];
  BuildkitVersion?: BuildkitVersion;
}
export interface ListWorkersResponse {
  record: WorkerRecord[];
}
export interface InfoResponse {
  buildkitVersion: BuildkitVersion;
}
export interface APICap {
  ID: string;
  Enabled: boolean;
}
export interface PongResponse {
  FrontendAPICaps: APICap[];
  LLBCaps: APICap[];
  Workers: WorkerRecord[];
}
export interface Ref {
  id: string;
}
export interface Result {
  ref?: Ref;
  refs?: { refs: Record<string, Ref> };
  refDeprecated?: string;
  result?: string;
  metadata: Record<string, Buffer>;
}
export interface GatewaySolveRequest {
  Definition: Buffer;
  Frontend: string;
  FrontendOpt: Record<string, string>;
  FrontendInputs: Record<string, Buffer>;
  Evaluate: boolean;
}
export interface GatewaySolveResponse {
  ref: string;
  result?: Result;
}
export interface RpcStatus {
  code: number;
  message: string;
}
export interface ReturnRequest {
  result?: Result;
  error?: RpcStatus;
}
export interface UsageRecord {
  ID: string;
  Mutable: boolean;
  InUse: boolean;
  Size: number;
  CreatedAt: Timestamp;
  LastUsedAt?: Timestamp;
  UsageCount: number;
  Description: string;
  RecordType: string;
  Shared: boolean;
}
export interface Stat {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Nanoseconds since the epoch. */
  modTime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
}
export const PACKET_STAT = 0;
export const PACKET_REQ = 1;
export const PACKET_DATA = 2;
export const PACKET_FIN = 3;
export const PACKET_ERR = 4;
export interface Packet {
  type: number;
  stat?: Stat | null;
  ID: number;
  data: Buffer;
}

type Empty = Record<string, never>;

export const messages = {
  SolveRequest: codec<SolveRequest>('SolveRequest'),
  SolveResponse: codec<SolveResponse>('SolveResponse'),
  StatusRequest: codec<StatusRequest>('StatusRequest'),
  StatusResponse: codec<StatusResponse>('StatusResponse'),
  ListWorkersRequest: codec<{ filter: string[] }>('ListWorkersRequest'),
  ListWorkersResponse: codec<ListWorkersResponse>('ListWorkersResponse'),
  InfoRequest: codec<Empty>('InfoRequest'),
  InfoResponse: codec<InfoResponse>('InfoResponse'),
  DiskUsageRequest: codec<{ filter: string[] }>('DiskUsageRequest'),
  DiskUsageResponse: codec<{ record: UsageRecord[] }>('DiskUsageResponse'),
  UsageRecord: codec<UsageRecord>('UsageRecord'),
  PruneRequest: codec<{ filter: string[]; all: boolean; keepDuration: number; keepBytes: number }>('PruneRequest'),
  PingRequest: codec<Empty>('PingRequest'),
  PongResponse: codec<PongResponse>('PongResponse'),
  GatewaySolveRequest: codec<GatewaySolveRequest>('GatewaySolveRequest'),
  GatewaySolveResponse: codec<GatewaySolveResponse>('GatewaySolveResponse'),
  ReturnRequest: codec<ReturnRequest>('ReturnRequest'),
  ReturnResponse: codec<Empty>('ReturnResponse'),
  Packet: codec<Packet>('Packet'),
  BytesMessage: codec<{ data: Buffer }>('BytesMessage'),
  CheckAgentRequest: codec<{ ID: string }>('CheckAgentRequest'),
  GetSecretRequest: codec<{ ID: string; annotations: Record<string, string> }>('GetSecretRequest'),
  GetSecretResponse: codec<{ data: Buffer }>('GetSecretResponse'),
};
