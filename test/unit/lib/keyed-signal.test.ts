import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedSignal } from '../../../src/lib/keyed-signal.js';
import { DetachKeyScanner, parseDetachKeys } from '../../../src/lib/detach-keys.js';

describe('KeyedSignal', () => {
  it('calls each waiter once per key, and a cancelled one never; size goes back to zero', () => {
    const s = new KeyedSignal<number>();
    const got: string[] = [];
    s.once('a', (v) => got.push(`a1:${v}`));
    const cancel = s.once('a', (v) => got.push(`a2:${v}`));
    s.once('b', (v) => got.push(`b:${v}`));
    assert.equal(s.size(), 3);
    cancel();
    cancel();
    assert.equal(s.size(), 2);
    s.emit('a', 1);
    s.emit('a', 2);
    assert.deepEqual(got, ['a1:1']);
    assert.equal(s.size(), 1);
    const n = s.next('b');
    n.cancel();
    s.emit('b', 3);
    assert.deepEqual(got, ['a1:1', 'b:3']);
    assert.equal(s.size(), 0);
  });
});

describe('DetachKeyScanner', () => {
  it('swallows the sequence across chunks and passes a broken one on', () => {
    const s = new DetachKeyScanner(parseDetachKeys(undefined));
    assert.deepEqual(s.scan(Buffer.from('ab\x10')), { pass: Buffer.from('ab'), detached: false });
    assert.deepEqual(s.scan(Buffer.from('x')), { pass: Buffer.from('\x10x'), detached: false });
    assert.deepEqual(s.scan(Buffer.from('\x10')), { pass: Buffer.alloc(0), detached: false });
    assert.deepEqual(s.scan(Buffer.from('\x11rest')), { pass: Buffer.alloc(0), detached: true });
    const custom = new DetachKeyScanner(parseDetachKeys('a,ctrl-b'));
    assert.deepEqual(custom.scan(Buffer.from('zaa\x02')), { pass: Buffer.from('za'), detached: true });
  });
});
