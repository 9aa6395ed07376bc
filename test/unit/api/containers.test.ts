import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { LogEntry, WaitHandle } from '../../../src/api/backend.js';
import type { WaitResponse } from '../../../src/api/types.js';
import { noSuchContainer } from '../../../src/lib/errors.js';
import { parseFrames, request, startStubServer, type TestServer } from './helpers.js';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

describe('container routes', () => {
  let srv: TestServer;
  let releaseWait: (r: WaitResponse) => void = () => {};
  let logEntries: LogEntry[] = [];
  let logTty = false;
  before(async () => {
    srv = await startStubServer({
      containers: {
        wait: async (ref): Promise<WaitHandle> => {
          if (ref === 'missing') throw noSuchContainer(ref);
          return { result: new Promise((resolve) => (releaseWait = resolve)), cancel: () => {} };
        },
        logs: async () => ({
          tty: logTty,
          entries: (async function* () {
            yield* logEntries;
          })(),
          close: () => {},
        }),
      },
    });
  });
  after(() => srv.close());
  const last = (method: string) => [...srv.calls].reverse().find((c) => c.method === method);

  describe('create', () => {
    it('passes name, platform and the body; answers 201 {Id, Warnings}', async () => {
      const body = { Image: 'busybox', Cmd: ['echo', 'hi'], HostConfig: { Memory: 1024 } };
      const r = await request(srv.sock, 'POST', '/v1.45/containers/create?name=web&platform=linux/amd64', {
        body: JSON.stringify(body),
        headers: JSON_HEADERS,
      });
      assert.equal(r.status, 201);
      assert.deepEqual(r.json(), { Id: 'c'.repeat(64), Warnings: [] });
      assert.deepEqual(last('containers.create')!.args, ['web', body, 'linux/amd64', {}]);
      // Clients below API 1.44 had read-only binds on their top mount only.
      await request(srv.sock, 'POST', '/v1.43/containers/create', { body: JSON.stringify(body), headers: JSON_HEADERS });
      assert.deepEqual(last('containers.create')!.args[3], { readOnlyNonRecursive: true });
    });

    it('accepts a plain string for Cmd and Entrypoint (strslice) as a one-item list', async () => {
      const r = await request(srv.sock, 'POST', '/containers/create', {
        body: JSON.stringify({ Image: 'x', Cmd: 'top', Entrypoint: '/bin/sh', HostConfig: { CapAdd: 'NET_ADMIN' } }),
        headers: JSON_HEADERS,
      });
      assert.equal(r.status, 201);
      const passed = last('containers.create')!.args[1] as Record<string, unknown>;
      assert.deepEqual(passed['Cmd'], ['top']);
      assert.deepEqual(passed['Entrypoint'], ['/bin/sh']);
      assert.deepEqual((passed['HostConfig'] as Record<string, unknown>)['CapAdd'], ['NET_ADMIN']);
      assert.equal(last('containers.create')!.args[0], undefined);
    });

    it('rejects an empty body and a body without config', async () => {
      for (const body of ['', '{}', '{"HostConfig":{}}']) {
        const r = await request(srv.sock, 'POST', '/containers/create', { body, headers: JSON_HEADERS });
        assert.equal(r.status, 400, body);
        assert.deepEqual(r.json(), { message: 'config cannot be empty in order to create a container' });
      }
    });

    it('rejects malformed JSON', async () => {
      const r = await request(srv.sock, 'POST', '/containers/create', { body: '{"Image":', headers: JSON_HEADERS });
      assert.equal(r.status, 400);
      assert.match((r.json() as { message: string }).message, /^invalid JSON: /);
    });

    it('type-checks the fields the engine reads, with Go-like messages', async () => {
      const cases: Array<[unknown, string]> = [
        [{ Image: 'x', Env: 'A=1' }, 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.Env of type []string'],
        [{ Image: 'x', Env: ['A=1', 2] }, 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Env of type string'],
        [{ Image: 'x', Cmd: [1] }, 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Cmd of type string'],
        [{ Image: 'x', Tty: 'yes' }, 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.Tty of type bool'],
        [{ Image: 5 }, 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Image of type string'],
        [{ Image: 'x', HostConfig: { Memory: '1g' } }, 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.Memory of type int64'],
        [{ Image: 'x', HostConfig: { Memory: 1.5 } }, 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field CreateRequest.HostConfig.Memory of type int64'],
        [{ Image: 'x', HostConfig: [] }, 'invalid JSON: json: cannot unmarshal array into Go struct field CreateRequest.HostConfig of type container.HostConfig'],
        [{ Image: 'x', Labels: { a: 1 } }, 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Labels of type string'],
        [{ Image: 'x', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 'x' } } }, 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.RestartPolicy.MaximumRetryCount of type int'],
        [['x'], 'invalid JSON: json: cannot unmarshal array into Go value of type container.CreateRequest'],
      ];
      for (const [body, message] of cases) {
        const r = await request(srv.sock, 'POST', '/containers/create', { body: JSON.stringify(body), headers: JSON_HEADERS });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.deepEqual(r.json(), { message });
      }
    });

    it('accepts null for any field, as Go does', async () => {
      const r = await request(srv.sock, 'POST', '/containers/create', {
        body: JSON.stringify({ Image: 'x', Env: null, Cmd: null, HostConfig: { Binds: null, Memory: null } }),
        headers: JSON_HEADERS,
      });
      assert.equal(r.status, 201);
    });

    it('requires Content-Type application/json when there is a body', async () => {
      const r = await request(srv.sock, 'POST', '/containers/create', { body: '{"Image":"x"}', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json(), { message: "unsupported Content-Type header (text/plain): must be 'application/json'" });
    });
  });

  describe('query parsing', () => {
    it('parses booleans as Docker does', async () => {
      const truthy = ['1', 'true', 'True', 'TRUE', 'yes', 'anything'];
      const falsy = ['', '0', 'false', 'False', 'no', 'none'];
      for (const v of truthy) {
        await request(srv.sock, 'DELETE', `/containers/x?force=${v}`);
        assert.equal((last('containers.remove')!.args[1] as { force: boolean }).force, true, v);
      }
      for (const v of falsy) {
        await request(srv.sock, 'DELETE', `/containers/x?force=${v}`);
        assert.equal((last('containers.remove')!.args[1] as { force: boolean }).force, false, v);
      }
      const r = await request(srv.sock, 'DELETE', '/containers/x?v=1&link=true');
      assert.equal(r.status, 204);
      assert.deepEqual(last('containers.remove')!.args, ['x', { force: false, volumes: true, link: true }]);
    });

    it('lists with all, limit, size and both filter encodings', async () => {
      await request(srv.sock, 'GET', `/containers/json?all=1&limit=3&size=true&filters=${encodeURIComponent('{"status":["exited"],"label":["a=b"]}')}`);
      assert.deepEqual(last('containers.list')!.args[0], { all: true, limit: 3, size: true, filters: { status: ['exited'], label: ['a=b'] } });
      await request(srv.sock, 'GET', `/containers/json?filters=${encodeURIComponent('{"status":{"running":true,"paused":true}}')}`);
      assert.deepEqual(last('containers.list')!.args[0], { all: false, limit: undefined, size: false, filters: { status: ['running', 'paused'] } });
    });

    it('rejects filters that are not valid JSON', async () => {
      for (const f of ['{bad', '[1]', '{"a":1}']) {
        const r = await request(srv.sock, 'GET', `/containers/json?filters=${encodeURIComponent(f)}`);
        assert.equal(r.status, 400, f);
        assert.deepEqual(r.json(), { message: 'invalid filter' });
      }
    });

    it('stop: t, and signal from API 1.42 on', async () => {
      assert.equal((await request(srv.sock, 'POST', '/v1.42/containers/x/stop?t=5&signal=SIGINT')).status, 204);
      assert.deepEqual(last('containers.stop')!.args, ['x', { timeout: 5, signal: 'SIGINT' }]);
      await request(srv.sock, 'POST', '/v1.41/containers/x/stop?signal=SIGINT');
      assert.deepEqual(last('containers.stop')!.args, ['x', {}]);
      const bad = await request(srv.sock, 'POST', '/containers/x/stop?t=soon');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.json(), { message: 'strconv.Atoi: parsing "soon": invalid syntax' });
    });

    it('kill, restart, rename, top, resize, inspect size, prune', async () => {
      assert.equal((await request(srv.sock, 'POST', '/containers/x/kill?signal=HUP')).status, 204);
      assert.deepEqual(last('containers.kill')!.args, ['x', 'HUP']);
      assert.equal((await request(srv.sock, 'POST', '/containers/x/restart?t=0')).status, 204);
      assert.deepEqual(last('containers.restart')!.args, ['x', { timeout: 0 }]);
      assert.equal((await request(srv.sock, 'POST', '/containers/x/rename?name=y')).status, 204);
      assert.deepEqual(last('containers.rename')!.args, ['x', 'y']);
      const top = await request(srv.sock, 'GET', '/containers/x/top?ps_args=aux');
      assert.deepEqual(top.json(), { Titles: ['PID'], Processes: [['1']] });
      assert.deepEqual(last('containers.top')!.args, ['x', 'aux']);
      assert.equal((await request(srv.sock, 'POST', '/containers/x/resize?h=24&w=80')).status, 200);
      assert.deepEqual(last('containers.resize')!.args, ['x', 24, 80]);
      assert.equal((await request(srv.sock, 'POST', '/containers/x/resize?h=24')).status, 400);
      await request(srv.sock, 'GET', '/containers/x/json?size=1');
      assert.deepEqual(last('containers.inspect')!.args, ['x', { size: true }]);
      const p = await request(srv.sock, 'POST', `/containers/prune?filters=${encodeURIComponent('{"until":["10m"]}')}`);
      assert.equal(p.status, 200);
      assert.deepEqual(last('containers.prune')!.args, [{ until: ['10m'] }]);
    });
  });

  describe('wait', () => {
    it('sends the status line before the container exits, then the result', async () => {
      const gotHeaders = new Promise<{ status: number; body: Promise<string> }>((resolve, reject) => {
        const req = httpRequest({ socketPath: srv.sock, method: 'POST', path: '/v1.45/containers/x/wait?condition=next-exit' }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          resolve({ status: res.statusCode!, body: new Promise((r) => res.on('end', () => r(text))) });
        });
        req.on('error', reject);
        req.end();
      });
      // The response has started while the wait is still pending.
      const head = await gotHeaders;
      assert.equal(head.status, 200);
      assert.deepEqual(last('containers.wait')!.args, ['x', 'next-exit']);
      releaseWait({ StatusCode: 3 });
      assert.deepEqual(JSON.parse(await head.body), { StatusCode: 3 });
    });

    it('carries the wait error in the body', async () => {
      const pending = request(srv.sock, 'POST', '/containers/x/wait?condition=removed');
      while (last('containers.wait')?.args[1] !== 'removed') await new Promise((r) => setImmediate(r));
      releaseWait({ StatusCode: 0, Error: { Message: 'removal failed' } });
      assert.deepEqual((await pending).json(), { StatusCode: 0, Error: { Message: 'removal failed' } });
    });

    it('answers backend errors and bad conditions with a status', async () => {
      const r = await request(srv.sock, 'POST', '/containers/missing/wait');
      assert.equal(r.status, 404);
      assert.deepEqual(r.json(), { message: 'No such container: missing' });
      const bad = await request(srv.sock, 'POST', '/containers/x/wait?condition=soon');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.json(), { message: 'invalid condition: "soon"' });
    });
  });

  describe('logs', () => {
    const t = '2024-05-01T10:00:00.5+02:00';
    const entries = (): LogEntry[] => [
      { stream: 'stdout', data: Buffer.from('out line\n'), time: t },
      { stream: 'stderr', data: Buffer.from('err line\n'), time: '2024-05-01T08:00:01.123456789Z' },
    ];

    it('frames stdout and stderr with stdcopy headers', async () => {
      logTty = false;
      logEntries = entries();
      const r = await request(srv.sock, 'GET', '/v1.45/containers/x/logs?stdout=1&stderr=1&tail=10&since=1700000000.5');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
      assert.deepEqual(parseFrames(r.body), [
        [1, 'out line\n'],
        [2, 'err line\n'],
      ]);
      assert.deepEqual(r.body.subarray(0, 8), Buffer.from([1, 0, 0, 0, 0, 0, 0, 9]));
      const opts = last('containers.logs')!.args[1] as Record<string, unknown>;
      assert.deepEqual(opts, { follow: false, stdout: true, stderr: true, timestamps: false, since: 1700000000.5, tail: 10 });
    });

    it('prefixes RFC3339Nano UTC timestamps with a space', async () => {
      logTty = false;
      logEntries = entries();
      const r = await request(srv.sock, 'GET', '/containers/x/logs?stdout=1&stderr=1&timestamps=1');
      assert.deepEqual(parseFrames(r.body), [
        [1, '2024-05-01T08:00:00.500000000Z out line\n'],
        [2, '2024-05-01T08:00:01.123456789Z err line\n'],
      ]);
    });

    it('sends raw bytes for a TTY container and the raw-stream type before API 1.42', async () => {
      logTty = true;
      logEntries = entries();
      const r = await request(srv.sock, 'GET', '/v1.41/containers/x/logs?stdout=1&tail=all');
      assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
      assert.equal(r.text, 'out line\nerr line\n');
      assert.equal((last('containers.logs')!.args[1] as Record<string, unknown>)['tail'], undefined);
      logTty = false;
    });

    it('requires at least one stream', async () => {
      const r = await request(srv.sock, 'GET', '/containers/x/logs?stdout=0');
      assert.equal(r.status, 400);
      assert.deepEqual(r.json(), { message: 'Bad parameters: you must choose at least one stream' });
    });

    it('stops following and closes when the client disconnects', async () => {
      let stopFollow: () => void = () => {};
      const stopped = new Promise<void>((r) => (stopFollow = r));
      const srv2 = await startStubServer({
        containers: {
          logs: async () => ({
            tty: false,
            entries: (async function* () {
              yield { stream: 'stdout' as const, data: Buffer.from('first\n'), time: t };
              await stopped;
            })(),
            close: () => stopFollow(),
          }),
        },
      });
      try {
        await new Promise<void>((resolve) => {
          const req = httpRequest({ socketPath: srv2.sock, path: '/containers/x/logs?stdout=1&follow=1' }, (res) => {
            res.once('data', (d: Buffer) => {
              assert.deepEqual(parseFrames(d), [[1, 'first\n']]);
              req.destroy();
              resolve();
            });
          });
          req.on('error', () => {});
          req.end();
        });
        // Resolves only through the backend's close(): the route noticed the client leaving.
        await stopped;
      } finally {
        await srv2.close();
      }
    });
  });
});
