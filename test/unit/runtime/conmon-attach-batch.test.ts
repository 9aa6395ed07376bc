import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAttachSocket } from '../../../src/runtime/conmon-attach.js';

async function waitFor(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the chunks');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Peer {
  dir: string;
  peer: ChildProcess & { stdin: NonNullable<ChildProcess['stdin']> };
  /** Waits until the peer has printed `line` `times` times. */
  said: (line: string, times?: number) => Promise<void>;
}

/** What every peer does first: listen on the attach socket's path, say "ready", take the client's first message ("go"). */
const PEER_START = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.recv(16)
`;

/** Runs `script`, a stand-in for conmon's attach socket that goes on from PEER_START, for `body`. */
async function withPeer(script: string, body: (p: Peer) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-attach-'));
  const peer = spawn('python3', ['-c', PEER_START + script, join(dir, 'attach')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let exit: number | null | undefined;
  peer.stdout.on('data', (d: Buffer) => (out += d.toString()));
  peer.once('exit', (code) => (exit = code));
  const said = (line: string, times = 1) =>
    waitFor(() => {
      if (exit !== undefined) throw new Error(`peer exited ${exit}`);
      return out.split('\n').filter((l) => l === line).length >= times;
    });
  try {
    await said('ready');
    await body({ dir, peer, said });
  } finally {
    peer.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

// A stand-in for conmon's attach socket: once the client sends "go", it queues packets as conmon
// writes them (stream byte 2 = stdout, 3 = stderr, then at most 8192 bytes) and says so; then it
// waits for a line on its stdin to send two small packets more, and closes at its EOF. Seven
// packets stay within the socket's send buffer, so all are queued before the client reads.
const PEER = `
for stream, fill, n in [(2, b"a", 3), (3, b"b", 1), (2, b"c", 2)]:
    for _ in range(n): c.send(bytes([stream]) + fill * 8192)
c.send(b"\\x02end\\n")
print("sent", flush=True)
sys.stdin.readline()
c.send(b"\\x03late\\n")
c.send(b"\\x02tail\\n")
sys.stdin.read()
c.close()
`;

test('attach stream: packets queued together are handed on as one chunk per run of a stream, in order', () =>
  withPeer(PEER, async ({ dir, peer, said }) => {
    const stream = await connectAttachSocket(dir, (m) => new Error(m));
    const chunks: Array<[string, Buffer]> = [];
    stream.on('data', (s: string, b: Buffer) => chunks.push([s, Buffer.from(b)]));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    stream.pause();
    stream.writeStdin(Buffer.from('go'));
    await said('sent');
    assert.equal(chunks.length, 0, 'nothing is read while paused');
    stream.resume();
    await waitFor(() => chunks.length === 3);
    // Packets of a later loop turn: read further on in the staging buffer, handed on as they are.
    peer.stdin.write('more\n');
    await waitFor(() => chunks.length === 5);
    peer.stdin.end();
    await ended;
    assert.deepEqual(
      chunks.map(([s, b]) => [s, b.length]),
      [['stdout', 3 * 8192], ['stderr', 8192], ['stdout', 2 * 8192 + 4], ['stderr', 5], ['stdout', 5]],
    );
    assert.deepEqual(chunks.slice(3).map(([s, b]) => `${s}:${b}`), ['stderr:late\n', 'stdout:tail\n']);
    assert.ok(chunks[0]![1].equals(Buffer.alloc(3 * 8192, 'a')));
    assert.ok(chunks[1]![1].equals(Buffer.alloc(8192, 'b')));
    assert.equal(chunks[2]![1].toString(), 'c'.repeat(2 * 8192) + 'end\n');
  }));

// Sends one bulk packet (a page or more: taken for the start of bulk output, so it waits for more),
// then nothing until the client's "more"; then a bulk packet and a short one together.
const BULK_PEER = `
c.send(b"\\x02" + b"x" * 4096)
c.recv(16)
c.send(b"\\x02" + b"y" * 8192)
c.send(b"\\x02z\\n")
sys.stdin.read()
c.close()
`;

test('attach stream: a bulk packet with nothing after it still goes on; one followed by a short one goes on with it', () =>
  withPeer(BULK_PEER, async ({ dir, peer }) => {
    const stream = await connectAttachSocket(dir, (m) => new Error(m));
    const chunks: Array<[string, Buffer]> = [];
    stream.on('data', (s: string, b: Buffer) => chunks.push([s, Buffer.from(b)]));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    stream.writeStdin(Buffer.from('go'));
    // The peer sends nothing more until asked: the lone bulk packet must not wait for company.
    await waitFor(() => chunks.length === 1);
    assert.deepEqual(chunks[0], ['stdout', Buffer.alloc(4096, 'x')]);
    stream.writeStdin(Buffer.from('more'));
    await waitFor(() => chunks.length > 1 && Buffer.concat(chunks.slice(1).map(([, b]) => b)).length === 8194);
    assert.equal(Buffer.concat(chunks.slice(1).map(([, b]) => b)).toString(), 'y'.repeat(8192) + 'z\n');
    peer.stdin.end();
    await ended;
  }));

// Three runs of bulk output queued together (stdout, stderr, stdout, two full packets each), then,
// at each line on its stdin, two full stdout packets more; it says "sent" when they are queued.
const LEND_PEER = `
for stream, fill in [(2, b"a"), (3, b"b"), (2, b"c")]:
    for _ in range(2): c.send(bytes([stream]) + fill * 8192)
print("sent", flush=True)
for fill in [b"d", b"e"]:
    sys.stdin.readline()
    for _ in range(2): c.send(b"\\x02" + fill * 8192)
    print("sent", flush=True)
sys.stdin.read()
c.close()
`;

test('attach stream: a released chunk carries later output, one still held is never written over', () =>
  withPeer(LEND_PEER, async ({ dir, peer, said }) => {
    const stream = await connectAttachSocket(dir, (m) => new Error(m));
    // The chunks themselves, not copies: what matters is what their memory holds later.
    const chunks: Buffer[] = [];
    stream.on('data', (_s: string, b: Buffer) => chunks.push(b));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    // Each time, everything is queued before the stream reads, so it is read in one go.
    const inOneGo = async (n: number) => {
      await said('sent', n);
      stream.resume();
      await waitFor(() => chunks.length === n + 2);
      stream.pause();
    };
    stream.pause();
    stream.writeStdin(Buffer.from('go'));
    await inOneGo(1);
    // The stderr run is done with; the two stdout runs are still being written somewhere.
    stream.release(chunks[1]!);
    peer.stdin.write('more\n');
    await inOneGo(2);
    assert.equal(chunks[3]!.buffer, chunks[1]!.buffer, "the next bulk chunk is in the released chunk's memory");
    assert.ok(chunks[3]!.equals(Buffer.alloc(2 * 8192, 'd')));
    assert.notEqual(chunks[3]!.buffer, chunks[0]!.buffer);
    assert.notEqual(chunks[3]!.buffer, chunks[2]!.buffer);
    // Nothing released: a buffer of its own, and the chunks still held are as they were.
    peer.stdin.write('more\n');
    await inOneGo(3);
    assert.ok(chunks[4]!.equals(Buffer.alloc(2 * 8192, 'e')));
    assert.ok(chunks[3]!.equals(Buffer.alloc(2 * 8192, 'd')));
    assert.ok(chunks[0]!.equals(Buffer.alloc(2 * 8192, 'a')));
    assert.ok(chunks[2]!.equals(Buffer.alloc(2 * 8192, 'c')));
    stream.resume();
    peer.stdin.end();
    await ended;
  }));
