/**
 * The client's ssh agents (`docker build --ssh id[=socket|keys]`) for `RUN --mount=type=ssh`,
 * over its session as BuildKit's sshforward does: `SSH/CheckAgent` says whether the client has
 * agent `id`, and each connection to the socket in the step's container becomes one
 * `SSH/ForwardAgent` stream (metadata `buildkit.ssh.id`) whose BytesMessages carry its bytes
 * both ways, cancelled when the connection closes. Nothing of the agent's protocol is read here.
 */
import type { Duplex } from 'node:stream';
import type { SshAgents } from '../api/backend.js';
import { noSshKey } from '../build/run-mounts.js';
import { GrpcError, Status, type GrpcClient } from './grpc.js';
import { messages } from './proto.js';

const CHECK = '/moby.sshforward.v1.SSH/CheckAgent';
const FORWARD = '/moby.sshforward.v1.SSH/ForwardAgent';

export function sessionSshAgents(client: GrpcClient, methods: string[], signal: AbortSignal): SshAgents {
  return {
    async check(id) {
      // buildx offers the service only with --ssh; a client without it forwards no key.
      if (!methods.includes(CHECK)) return noSshKey(id);
      try {
        await client.unary(CHECK, messages.CheckAgentRequest.encode({ ID: id }), {}, signal);
        return null;
      } catch (err) {
        if (err instanceof GrpcError && err.code === Status.UNIMPLEMENTED) return noSshKey(id);
        return (err as Error).message;
      }
    },
    connect(id, conn) {
      let call;
      try {
        call = client.call(FORWARD, { 'buildkit.ssh.id': id }, signal);
      } catch {
        // The session is gone (node throws at once on a closed one): the step's connection fails.
        conn.destroy();
        return;
      }
      forward(call, conn);
    },
  };
}

function forward(call: ReturnType<GrpcClient['call']>, conn: Duplex): void {
  conn.on('error', () => call.cancel());
  // The connection's bytes go out one message at a time, the next read waiting for the stream.
  conn.on('data', (chunk: Buffer) => {
    conn.pause();
    call.send(messages.BytesMessage.encode({ data: chunk })).then(
      () => conn.resume(),
      () => conn.destroy(),
    );
  });
  // A step that shuts down only its writing side is not passed on as the end of the stream: buildx
  // v0.10 cancels the whole build when a forwarding stream is half-closed (seen with v0.10.5), and
  // an ssh client never half-closes its agent connection; the stream ends when the connection does.
  void (async () => {
    for await (const m of call.messages()) {
      if (conn.destroyed) break;
      if (!conn.write(messages.BytesMessage.decode(m).data)) await new Promise((resolve) => conn.once('drain', resolve).once('close', resolve));
    }
    conn.end();
  })().catch(() => conn.destroy());
  conn.once('close', () => call.cancel());
}
