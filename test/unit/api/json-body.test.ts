/** api/json-body.ts: request bodies decoded as Go's encoding/json decodes Docker's structs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJSON } from '../../../src/api/json-body.js';
import { AUTH_CONFIG, EXEC_CREATE, NETWORK_CREATE, VOLUME_CREATE } from '../../../src/api/body-shapes.js';
import { decodeCreateBody } from '../../../src/api/create-body.js';
import { isEngineError } from '../../../src/lib/errors.js';
import { parseJSONBody } from '../../../src/api/request.js';

const refused = (fn: () => unknown, message: string) =>
  assert.throws(fn, (err: unknown) => isEngineError(err, 'InvalidParameter') && err.message === message);

test('field names match case-insensitively and come out canonical', () => {
  assert.deepEqual(decodeJSON(JSON.parse('{"detachKeys":"ctrl-x","CMD":["sh"],"tty":true}'), EXEC_CREATE), {
    DetachKeys: 'ctrl-x',
    Cmd: ['sh'],
    Tty: true,
  });
  // An exact match wins; keys of maps are data and keep their case.
  assert.deepEqual(decodeJSON({ name: 'v', Labels: { Foo: 'x' } }, VOLUME_CREATE), { Name: 'v', Labels: { Foo: 'x' } });
  assert.deepEqual(decodeJSON({ Username: 'u', PASSWORD: 'p' }, AUTH_CONFIG), { username: 'u', password: 'p' });
  const c = decodeCreateBody({ image: 'busybox', hostconfig: { binds: ['/a:/b'] } });
  assert.deepEqual(c.HostConfig?.Binds, ['/a:/b']);
  assert.equal(c.Image, 'busybox');
});

test('type mismatches are 400s in Go wording, with the field path', () => {
  refused(() => decodeJSON({ Env: [{}] }, EXEC_CREATE), 'invalid JSON: json: cannot unmarshal object into Go struct field ExecOptions.Env of type string');
  refused(() => decodeJSON({ Tty: 'yes' }, EXEC_CREATE), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecOptions.Tty of type bool');
  refused(() => decodeJSON([], EXEC_CREATE), 'invalid JSON: json: cannot unmarshal array into Go value of type container.ExecOptions');
  refused(() => decodeJSON('x', VOLUME_CREATE), 'invalid JSON: json: cannot unmarshal string into Go value of type volume.CreateOptions');
  refused(
    () => decodeJSON({ IPAM: { Config: [{ Subnet: 10 }] } }, NETWORK_CREATE),
    'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.IPAM.Config.Subnet of type string',
  );
  refused(
    () => decodeCreateBody({ Image: 'x', HostConfig: { Memory: '1g' } }),
    'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.Memory of type int64',
  );
  refused(() => decodeCreateBody({ Image: 'x', HostConfig: { CpuShares: 1.5 } }), 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field CreateRequest.HostConfig.CpuShares of type int64');
  refused(() => decodeCreateBody({ Image: 'x', StopTimeout: 1e300 }), 'invalid JSON: json: cannot unmarshal number 1e+300 into Go struct field CreateRequest.StopTimeout of type int');
  // A number meant for something else is Go's bare "number"; only a number that does not fit a number's type shows its literal.
  refused(() => decodeCreateBody({ Image: 'x', HostConfig: { Ulimits: 5 } }), 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.HostConfig.Ulimits of type []*container.Ulimit');
  refused(() => decodeCreateBody({ Image: 'x', HostConfig: 7 }), 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.HostConfig of type container.HostConfig');
  refused(() => decodeJSON({ ConsoleSize: [1, 2, 3] }, EXEC_CREATE), 'invalid JSON: ConsoleSize takes at most 2 values');
  // Names of Object.prototype's members are not fields; "__proto__" sets no prototype.
  assert.deepEqual(decodeJSON(JSON.parse('{"toString":{"a":1},"constructor":1}'), VOLUME_CREATE), { toString: { a: 1 }, constructor: 1 });
  const proto = decodeJSON<Record<string, unknown>>(JSON.parse('{"__proto__":{"Name":"x"}}'), NETWORK_CREATE)!;
  assert.equal(proto.Name, undefined);
});

test('null leaves a field unset; no body stays undefined; strslice takes a string', () => {
  assert.deepEqual(decodeJSON({ Env: null, Tty: null }, EXEC_CREATE), { Env: null, Tty: null });
  assert.equal(decodeJSON(undefined, EXEC_CREATE), undefined);
  assert.equal(decodeJSON(null, EXEC_CREATE), undefined);
  assert.deepEqual(decodeCreateBody({ Image: 'x', Cmd: 'echo hi' }).Cmd, ['echo hi']);
  refused(() => decodeCreateBody({}), 'config cannot be empty in order to create a container');
});

test("syntax errors in Go's json.Decoder wording; a second value is Docker's unexpected content", () => {
  const cases: Array<[string, string]> = [
    ['{invalid json', "invalid JSON: invalid character 'i' looking for beginning of object key string"],
    ['{"a" 1}', "invalid JSON: invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid JSON: invalid character '"' after object key:value pair`],
    ['[1 2]', "invalid JSON: invalid character '2' after array element"],
    ['{"a":tru}', "invalid JSON: invalid character '}' in literal true (expecting 'e')"],
    ['{"a":-x}', "invalid JSON: invalid character 'x' in numeric literal"],
    ['{"a":1.}', "invalid JSON: invalid character '}' after decimal point in numeric literal"],
    ['{"a":"\\q"}', "invalid JSON: invalid character 'q' in string escape code"],
    ['{"a":"x\ny"}', "invalid JSON: invalid character '\\n' in string literal"],
    ["{'a':1}", "invalid JSON: invalid character '\\'' looking for beginning of object key string"],
    ['{"a":[1,', 'invalid JSON: unexpected EOF'],
    ['{}{}', 'unexpected content after JSON'],
    ['{} x', 'unexpected content after JSON'],
  ];
  for (const [text, message] of cases) refused(() => parseJSONBody(text), message);
  // json.Decoder.More is false before a closing bracket: Docker decodes the first value.
  assert.deepEqual(parseJSONBody('{"a":1} }'), { a: 1 });
});
