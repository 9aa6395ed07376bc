export { EngineClient, CLIENT_MAX_API_VERSION, compareApiVersions, encodeQuery } from './engine-client.js';
export type {
  AttachOptions,
  ClientOptions,
  HijackedConnection,
  LogsOptions,
  PendingWait,
  PingResult,
  RequestOptions,
  WaitCondition,
} from './engine-client.js';
export { ApiError, ConnectionError, isNotFound } from './api-error.js';
export { DEFAULT_HOST, parseHost, resolveHost } from './host.js';
export { StdcopyDemuxer, StdcopyError, demuxBuffer, demuxStream } from './stdcopy.js';
export { decodeJsonStream } from './json-stream.js';
