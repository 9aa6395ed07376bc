/** BuildKit's API on wharfd's connections: /grpc (the control API and gateway) and /session. */
import type { Duplex } from 'node:stream';
import { BuildkitController, type DockerfileBuilder } from './controller.js';
import { GrpcServer } from './grpc.js';
import type { SessionInfo } from './sessions.js';

export type { DockerfileBuilder } from './controller.js';
export type { SessionInfo } from './sessions.js';

export class BuildkitService {
  private readonly controller: BuildkitController;
  private readonly server: GrpcServer;

  constructor(builder: DockerfileBuilder, log: (msg: string) => void) {
    this.controller = new BuildkitController(builder);
    this.server = new GrpcServer(this.controller.methods(), log);
  }

  /** Serves the control API on an upgraded /grpc connection. */
  serveControl(socket: Duplex, head: Buffer): void {
    this.server.accept(socket, head);
  }

  /** Takes an upgraded /session connection, on which the client serves its files. */
  attachSession(info: SessionInfo, socket: Duplex, head: Buffer): void {
    this.controller.sessions.attach(info, socket, head);
  }

  claimSession(id: string): boolean {
    return this.controller.sessions.claim(id);
  }

  releaseSession(id: string): void {
    this.controller.sessions.release(id);
  }
}
