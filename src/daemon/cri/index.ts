/**
 * The engine side of the CRI endpoint: builds the CRI backends over the daemon's services and
 * starts the gRPC server (cri/server.ts) on the configured socket.
 */
import { startCriServer, type CriServer } from '../../cri/server.js';
import type { CriImageBackend, CriRuntimeBackend } from '../../cri/backend.js';
import { startStreamingServer } from '../../cri/streaming/server.js';
import { WHARF_VERSION } from '../system.js';
import { streamingRuntime, type StreamingRuntimeDeps } from './streaming-runtime.js';

export interface CriDeps {
  socketPath: string;
  log: (msg: string) => void;
  /** The engine services exec/attach/port-forward run through, and the streaming server's `host:port` (default 127.0.0.1, any port). */
  streaming: Omit<StreamingRuntimeDeps, 'log'> & { address?: string };
}

function runtimeBackend(): CriRuntimeBackend {
  return {
    async Version() {
      return { version: '0.1.0', runtime_name: 'wharf', runtime_version: WHARF_VERSION, runtime_api_version: 'v1' };
    },
    async Status() {
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            { type: 'NetworkReady', status: true, reason: '', message: '' },
          ],
        },
        info: {},
      };
    },
  };
}

export async function startCri(deps: CriDeps): Promise<CriServer> {
  const images: CriImageBackend = {};
  const runtime = streamingRuntime({ ...deps.streaming, log: deps.log });
  const streaming = await startStreamingServer({ runtime, address: deps.streaming.address, log: deps.log });
  try {
    return await startCriServer({ socketPath: deps.socketPath, runtime: runtimeBackend(), images, streaming, log: deps.log });
  } catch (err) {
    await streaming.close();
    throw err;
  }
}
