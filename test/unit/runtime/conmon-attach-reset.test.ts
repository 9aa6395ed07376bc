import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAttachSocket } from '../../../src/runtime/conmon-attach.js';

// A stand-in for conmon's attach socket (Node cannot serve SOCK_SEQPACKET without reading all it
// gets): it takes the connection, waits for a packet of input it never reads, queues one packet
// of output (conmon's stream byte 2 = stdout) and closes. The kernel then reports ECONNRESET to
// the client once, before the queued packet.
const PEER = `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
while c.recv(1, socket.MSG_PEEK) == b"": time.sleep(0.01)
c.send(b"\\x02out-42\\n")
c.close()
`;

test('attach stream: output conmon queued before closing on unread input is read, not lost to the reset', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-attach-'));
  const peer = spawn('python3', ['-c', PEER, join(dir, 'attach')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      peer.stdout.once('data', () => resolve());
      peer.once('exit', (code) => reject(new Error(`peer exited ${code}`)));
    });
    assert.ok(existsSync(join(dir, 'attach')));
    const stream = await connectAttachSocket(dir, (m) => new Error(m));
    const out: string[] = [];
    const errors: Error[] = [];
    stream.on('data', (s: string, b: Buffer) => out.push(`${s}:${b.toString()}`));
    stream.on('error', (e: Error) => errors.push(e));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    stream.writeStdin(Buffer.from('x\n'));
    await new Promise((r) => peer.once('exit', r));
    // Input written after the peer closed: dropped, never an error that ends the output early.
    stream.writeStdin(Buffer.from('y\n'));
    await ended;
    assert.deepEqual(out, ['stdout:out-42\n']);
    assert.deepEqual(errors, []);
  } finally {
    peer.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
