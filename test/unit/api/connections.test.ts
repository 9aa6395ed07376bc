import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { ConnectionPool, connectionCap, openFileLimit } from '../../../src/api/connections.js';

/** A socket that is never connected; destroy() marks it. */
const sock = () => new Socket();

test('connectionCap: half the descriptors less a reserve, shared by the listeners, within bounds', () => {
  assert.equal(connectionCap(1024, 1), 448);
  assert.equal(connectionCap(1024, 2), 224);
  assert.equal(connectionCap(256, 1), 64);
  assert.equal(connectionCap(64, 1), 32);
  assert.equal(connectionCap(1 << 20, 1), 16_384);
  assert.ok(openFileLimit() > 0);
});

test('at the cap the longest idle connection is closed; with all busy a new one is refused', () => {
  const logs: string[] = [];
  const pool = new ConnectionPool('test.sock', { cap: 3, firstRequestTimeoutMs: 60_000, idleTimeoutMs: 60_000 }, (m) => logs.push(m));
  const [a, b, c, d, e] = [sock(), sock(), sock(), sock(), sock()];
  assert.ok(pool.admit(a) && pool.admit(b) && pool.admit(c));
  pool.requestStarted(a);
  pool.requestEnded(a); // a is idle again, now the most recently idle
  assert.ok(pool.admit(d));
  assert.ok(b.destroyed, 'b was the longest idle');
  assert.ok(!a.destroyed && !c.destroyed);
  pool.requestStarted(a);
  pool.requestStarted(c);
  pool.hijacked(d);
  assert.equal(pool.admit(e), false);
  assert.ok(e.destroyed);
  assert.ok(!a.destroyed && !c.destroyed && !d.destroyed);
  assert.equal(pool.size, 3);
  assert.match(logs[0]!, /test\.sock: 3 connections open \(the limit\)/);
  pool.destroyAll();
  assert.ok(a.destroyed && c.destroyed && d.destroyed);
  assert.equal(pool.size, 0);
});

test('a connection that never sends a request is closed after the first-request timeout', async () => {
  const pool = new ConnectionPool('t', { cap: 10, firstRequestTimeoutMs: 20, idleTimeoutMs: 60_000 }, () => {});
  const silent = sock();
  const busy = sock();
  pool.admit(silent);
  pool.admit(busy);
  pool.requestStarted(busy);
  await new Promise<void>((r) => {
    const t = setInterval(() => {
      if (silent.destroyed) {
        clearInterval(t);
        r();
      }
    }, 5);
  });
  assert.ok(!busy.destroyed, 'a connection with a request in flight is not timed out');
  pool.destroyAll();
});

test('trim closes idle connections, longest idle first, down to a lowered cap', () => {
  const pool = new ConnectionPool('t', { cap: 10, firstRequestTimeoutMs: 60_000, idleTimeoutMs: 60_000 }, () => {});
  const socks = [sock(), sock(), sock(), sock()];
  for (const s of socks) pool.admit(s);
  pool.requestStarted(socks[0]!);
  pool.trim(2);
  assert.deepEqual(socks.map((s) => s.destroyed), [false, true, true, false]);
  pool.destroyAll();
});
