/**
 * The engine side of the CRI endpoint: builds the CRI backends over the daemon's services and
 * starts the gRPC server (cri/server.ts) on the configured socket.
 */
import { startCriServer, type CriServer } from '../../cri/server.js';
import type { CriImageBackend, CriRuntimeBackend } from '../../cri/backend.js';
import type { StreamingServer } from '../../cri/streaming/types.js';
import { notImplemented } from '../../lib/errors.js';
import { WHARF_VERSION } from '../system.js';

export interface CriDeps {
  socketPath: string;
  log: (msg: string) => void;
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

function streamingServer(): StreamingServer {
  const refuse = async (): Promise<{ url: string }> => {
    throw notImplemented('the CRI streaming server is not available');
  };
  return { getExec: refuse, getAttach: refuse, getPortForward: refuse, close: async () => {} };
}

export function startCri(deps: CriDeps): Promise<CriServer> {
  const images: CriImageBackend = {};
  return startCriServer({ socketPath: deps.socketPath, runtime: runtimeBackend(), images, streaming: streamingServer(), log: deps.log });
}
