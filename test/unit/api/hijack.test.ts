import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttachIO, AttachOptions } from '../../../src/api/backend.js';
import { frame, frameHeader } from '../../../src/api/stdcopy.js';
import { noSuchContainer } from '../../../src/lib/errors.js';
import { headerEnd, parseFrames, rawConnect, request, splitRaw, startStubServer, type TestServer } from './helpers.js';

/** An attach session driven by the test: it records stdin and ends when told. */
interface Script {
  tty: boolean;
  run(io: AttachIO): Promise<void>;
}

describe('hijacked attach', () => {
  let srv: TestServer;
  let script: Script;
  let lastOpts: AttachOptions | undefined;
  before(async () => {
    srv = await startStubServer({
      containers: {
        attach: async (ref, opts) => {
          if (ref === 'missing') throw noSuchContainer(ref);
          lastOpts = opts;
          return { tty: script.tty, run: (io) => script.run(io) };
        },
      },
    });
  });
  after(() => srv.close());

  const upgradeRequest = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: text/plain\r\n\r\n`;

  it('upgrades with 101 and frames stdout/stderr (multiplexed content type at API >= 1.42)', async () => {
    script = {
      tty: false,
      async run(io) {
        io.stdout.write('hello\n');
        io.stderr.write('oops\n');
      },
    };
    const conn = rawConnect(srv.sock, upgradeRequest('/v1.45/containers/x/attach?stream=1&stdout=1&stderr=1&detachKeys=ctrl-x'));
    const all = await conn.ended;
    const { statusLine, headers, rest } = splitRaw(all);
    assert.equal(statusLine, 'HTTP/1.1 101 UPGRADED');
    assert.equal(headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    assert.equal(headers['connection'], 'Upgrade');
    assert.equal(headers['upgrade'], 'tcp');
    assert.equal(headers['api-version'], '1.51');
    assert.deepEqual(parseFrames(rest), [
      [1, 'hello\n'],
      [2, 'oops\n'],
    ]);
    assert.deepEqual(lastOpts, { stream: true, logs: false, stdin: false, stdout: true, stderr: true, detachKeys: 'ctrl-x' });
    conn.socket.destroy();
  });

  it('announces raw-stream before API 1.42 and sends TTY output unframed', async () => {
    script = {
      tty: false,
      async run(io) {
        io.stdout.write('a');
      },
    };
    let conn = rawConnect(srv.sock, upgradeRequest('/v1.41/containers/x/attach?stream=1&stdout=1'));
    let parts = splitRaw(await conn.ended);
    assert.equal(parts.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.deepEqual(parseFrames(parts.rest), [[1, 'a']]);
    conn.socket.destroy();

    script = {
      tty: true,
      async run(io) {
        io.stdout.write('tty out\r\n');
      },
    };
    conn = rawConnect(srv.sock, upgradeRequest('/v1.45/containers/x/attach?stream=1&stdout=1'));
    parts = splitRaw(await conn.ended);
    assert.equal(parts.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(parts.rest.toString(), 'tty out\r\n');
    conn.socket.destroy();
  });

  /** A session that echoes stdin as `echo:<bytes>`, records it, and at stdin's end writes `last` and ends. */
  const echoing = (last = '') => {
    const seen = { received: '' };
    script = {
      tty: false,
      run(io) {
        return new Promise((resolve) => {
          io.stdin!.on('data', (d: Buffer) => {
            seen.received += d.toString();
            io.stdout.write(`echo:${d}`);
          });
          io.stdin!.on('end', () => {
            if (last) io.stdout.write(last);
            resolve();
          });
        });
      },
    };
    return seen;
  };

  it('feeds client bytes to stdin and ends stdin when the client half-closes', async () => {
    const seen = echoing('stdin closed');
    const conn = rawConnect(srv.sock, upgradeRequest('/v1.45/containers/x/attach?stream=1&stdin=1&stdout=1') + 'early');
    await conn.until((b) => headerEnd(b) && splitRaw(b).rest.includes('echo:early'));
    conn.socket.write('more');
    await conn.until((b) => splitRaw(b).rest.includes('echo:more'));
    conn.socket.end(); // CloseWrite, as the Docker CLI does at stdin EOF
    const all = await conn.ended;
    assert.equal(seen.received, 'earlymore');
    const frames = parseFrames(splitRaw(all).rest);
    assert.deepEqual(frames[frames.length - 1], [1, 'stdin closed']);
    assert.equal(frames.map((f) => f[1]).join(''), 'echo:earlyecho:morestdin closed');
  });

  it('upgrades on the Upgrade header alone, as Go\'s server lets moby: 101, then stdin and stdout flow; a JSON body is not stdin', async () => {
    const seen = echoing();
    // moby's test clients send `Upgrade: tcp` and no Connection header; dockerode adds its options as a body.
    const body = '{"stream":true}';
    const conn = rawConnect(
      srv.sock,
      `POST /v1.45/containers/x/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: api\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const head = splitRaw(await conn.until(headerEnd));
    assert.equal(head.statusLine, 'HTTP/1.1 101 UPGRADED');
    assert.deepEqual([head.headers['connection'], head.headers['upgrade']], ['Upgrade', 'tcp']);
    // Bytes after the answer are stdin, not a next request to the HTTP parser.
    conn.socket.write('GET / HTTP/1.1\r\n\r\n');
    await conn.until((b) => splitRaw(b).rest.includes('echo:GET'));
    conn.socket.end();
    await conn.ended;
    assert.equal(seen.received, 'GET / HTTP/1.1\r\n\r\n');
  });

  it("answers an attach error before the streams as moby does: status line, raw-stream type, bare text", async () => {
    const conn = rawConnect(srv.sock, upgradeRequest('/v1.45/containers/missing/attach?stream=1&stdout=1'));
    const { statusLine, headers, rest } = splitRaw(await conn.ended);
    assert.equal(statusLine, 'HTTP/1.1 404 Not Found');
    assert.equal(headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(rest.toString(), 'No such container: missing\r\n');
    conn.socket.destroy();
  });

  it('without Upgrade answers 200 with the stream as the body', async () => {
    script = {
      tty: false,
      async run(io) {
        io.stdout.write('plain');
        io.stderr.write('err');
      },
    };
    const r = await request(srv.sock, 'POST', '/v1.45/containers/x/attach?stream=1&stdout=1&stderr=1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.deepEqual(parseFrames(r.body), [
      [1, 'plain'],
      [2, 'err'],
    ]);
  });

  it('ends the connection when the server closes', async () => {
    let started: () => void = () => {};
    const running = new Promise<void>((r) => (started = r));
    const srv2 = await startStubServer({
      containers: {
        attach: async () => ({
          tty: true,
          run: (io) =>
            new Promise<void>((resolve) => {
              started();
              io.stdout.once('close', () => resolve());
            }),
        }),
      },
    });
    const conn = rawConnect(srv2.sock, upgradeRequest('/containers/x/attach?stream=1&stdout=1'));
    await running;
    await srv2.close();
    const { statusLine } = splitRaw(await conn.ended);
    assert.equal(statusLine, 'HTTP/1.1 101 UPGRADED');
    conn.socket.destroy();
  });
});

describe('the end of every request is reported (the daemon trims its memory once they stop)', () => {
  it('an answered request when it is answered, a hijacked stream only when its connection closes', async () => {
    let ended = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const srv = await startStubServer(
      {
        containers: {
          attach: async () => ({
            tty: false,
            async run(io) {
              io.stdout.write('x');
              await held;
            },
          }),
        },
      },
      { onRequestEnd: () => void ended++ },
    );
    const endedReaches = async (n: number) => {
      for (let i = 0; i < 500 && ended < n; i++) await sleep(10);
      assert.equal(ended, n);
    };
    try {
      assert.equal((await request(srv.sock, 'GET', '/_ping')).status, 200);
      await endedReaches(1);
      const conn = rawConnect(srv.sock, `POST /v1.45/containers/x/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      await conn.until((b) => headerEnd(b) && parseFrames(splitRaw(b).rest).length === 1);
      assert.equal(ended, 1, 'the stream is still open');
      release();
      await conn.ended;
      conn.socket.destroy();
      await endedReaches(2);
    } finally {
      await srv.close();
    }
  });
});

describe('stdcopy', () => {
  it('writes the 8-byte header: stream, three zeros, big-endian length', () => {
    assert.deepEqual(frameHeader(2, 0x01020304), Buffer.from([2, 0, 0, 0, 1, 2, 3, 4]));
    assert.deepEqual(frame(1, Buffer.from('hi')), Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]));
  });
});
