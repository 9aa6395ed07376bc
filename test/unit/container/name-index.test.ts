import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NameIndex, validateName } from '../../../src/container/name-index.js';
import { ADJECTIVES, SURNAMES, randomName } from '../../../src/container/names-generator.js';
import { isEngineError } from '../../../src/lib/errors.js';

const ID_A = 'abc1' + '0'.repeat(60);
const ID_B = 'abc2' + '0'.repeat(60);
const ID_C = 'def0' + '0'.repeat(60);

function errorOf(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isEngineError(err), `expected an EngineError, got ${err}`);
    return { kind: err.kind, message: err.message };
  }
  assert.fail('expected an error');
}

describe('container names', () => {
  it('accepts Docker-valid names, with or without the slash', () => {
    for (const n of ['web', '/web', 'a1', 'my_app.v2-x', 'A-']) validateName(n);
  });

  it('rejects invalid names with Docker text', () => {
    for (const n of ['a', '_x', '-x', 'has space', 'a/b', 'x!', '']) {
      const e = errorOf(() => validateName(n));
      assert.equal(e.kind, 'InvalidParameter');
      assert.equal(e.message, `Invalid container name (${n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
  });

  it('reserves, conflicts with Docker text, is idempotent per id, and releases', () => {
    const idx = new NameIndex();
    idx.reserve('web', ID_A);
    idx.reserve('/web', ID_A); // same holder: no-op
    const e = errorOf(() => idx.reserve('web', ID_B));
    assert.equal(e.kind, 'Conflict');
    assert.equal(
      e.message,
      `Conflict. The container name "/web" is already in use by container "${ID_A}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    assert.equal(errorOf(() => idx.reserve('x y', ID_B)).kind, 'InvalidParameter');
    idx.release('/web', ID_B); // not its holder: kept
    assert.equal(idx.resolve('web'), ID_A);
    idx.release('/web', ID_A);
    assert.equal(idx.has('web'), false);
    assert.equal(errorOf(() => idx.resolve(ID_A)).kind, 'NotFound', 'an id without names is forgotten');
    idx.reserve('web', ID_B);
    assert.equal(idx.resolve('web'), ID_B);
  });

  it('renames: reserving the new name, then releasing the old, keeps the id resolvable', () => {
    const idx = new NameIndex();
    idx.reserve('old', ID_A);
    idx.reserve('new', ID_A);
    assert.equal(idx.resolve('old'), ID_A);
    idx.release('new', ID_A); // a failed rename rolls back
    assert.equal(idx.resolve(ID_A), ID_A);
    assert.equal(idx.nameOf(ID_A), '/old');
    idx.reserve('newer', ID_A);
    idx.release('old', ID_A); // a rename that succeeded
    assert.equal(idx.nameOf(ID_A), '/newer');
    assert.equal(idx.has('old'), false);
    idx.reserve('taken', ID_B);
    assert.equal(errorOf(() => idx.reserve('taken', ID_A)).kind, 'Conflict');
    assert.equal(idx.nameOf(ID_A), '/newer', 'a refused name changes nothing');
  });

  it('resolves full id, name, unique prefix; ambiguous and unknown as Docker', () => {
    const idx = new NameIndex();
    idx.reserve('alpha', ID_A);
    idx.reserve('beta', ID_B);
    idx.reserve('abc2', ID_C); // a name that is also a prefix of another ID: the name wins
    assert.equal(idx.resolve(ID_A), ID_A);
    assert.equal(idx.resolve('alpha'), ID_A);
    assert.equal(idx.resolve('/beta'), ID_B);
    assert.equal(idx.resolve('abc1'), ID_A);
    assert.equal(idx.resolve('abc2'), ID_C);
    assert.equal(idx.resolve('d'), ID_C);
    const amb = errorOf(() => idx.resolve('abc'));
    assert.deepEqual(amb, { kind: 'InvalidParameter', message: 'multiple IDs found with provided prefix: abc' });
    assert.deepEqual(errorOf(() => idx.resolve('zzz')), { kind: 'NotFound', message: 'No such container: zzz' });
    assert.deepEqual(errorOf(() => idx.resolve('')), { kind: 'InvalidParameter', message: 'invalid name or ID supplied: ""' });
  });

  it('generates valid adjective_surname names that are free', () => {
    for (let i = 0; i < 50; i++) {
      const n = randomName();
      const [adj, sur] = n.split('_');
      assert.ok(ADJECTIVES.includes(adj!) && SURNAMES.includes(sur!), n);
      validateName(n);
    }
    assert.match(randomName(2), /^[a-z]+_[a-z]+\d$/);
    assert.ok(ADJECTIVES.length >= 24 && SURNAMES.length >= 24);
    // Fill every base name: generate() must still find a free one (digit suffix or short id).
    const idx = new NameIndex();
    let k = 0;
    for (const a of ADJECTIVES) for (const s of SURNAMES) idx.reserve(`${a}_${s}`, (k++).toString(16).padStart(64, '0'));
    const n = idx.generate(ID_C);
    assert.equal(idx.has(n), false);
    validateName(n);
  });
});
