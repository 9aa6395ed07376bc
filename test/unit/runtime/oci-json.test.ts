import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkRuntimeStrings, MAX_RUNTIME_STRING, ociJson } from '../../../src/runtime/oci-json.js';
import { RuntimeStartError } from '../../../src/runtime/runtime.js';

describe('oci-json', () => {
  it('writes a negative rlimit as Go casts it to uint64 (-1: RLIM_INFINITY), and only rlimits', () => {
    const spec = {
      process: { args: ['sh'], rlimits: [{ type: 'RLIMIT_CORE', soft: -1, hard: -1 }, { type: 'RLIMIT_NOFILE', soft: 1024, hard: -2 }] },
      annotations: { soft: '-1' },
      linux: { resources: { memory: { swap: -1 } } },
    };
    const text = ociJson(spec);
    assert.match(text, /"rlimits":\[\{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615\},\{"type":"RLIMIT_NOFILE","soft":1024,"hard":18446744073709551614\}\]/);
    assert.match(text, /"swap":-1/);
    assert.match(text, /"annotations":\{"soft":"-1"\}/);
    // A spec read back (JSON numbers become doubles, 2^64-1 rounds up to 2^64) is written out the same.
    const unlimited = ociJson({ process: { rlimits: [{ type: 'RLIMIT_CORE', soft: -1, hard: -1 }] } });
    assert.equal(ociJson(JSON.parse(unlimited)), unlimited);
    assert.equal(ociJson({ process: { rlimits: [{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }] } }), JSON.stringify({ process: { rlimits: [{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }] } }));
  });

  it('a string that only looks like the token stays a string', () => {
    const text = ociJson({ process: { args: ['x"1"', '"1"'], rlimits: [{ type: 'RLIMIT_CORE', soft: -1, hard: -1 }] } });
    assert.deepEqual((JSON.parse(text) as { process: { args: string[] } }).process.args, ['x"1"', '"1"']);
  });

  it('refuses a path or name runc would echo past its pipe, not the environment or later arguments', () => {
    const long = 'a'.repeat(MAX_RUNTIME_STRING + 1);
    const ok = { process: { args: ['sh', long], env: [`A=${long}`], cwd: '/' }, annotations: { a: long }, linux: { maskedPaths: ['/proc/kcore'] } };
    checkRuntimeStrings(ok, 'runc create failed');
    checkRuntimeStrings({ linux: { maskedPaths: [`/${'a'.repeat(MAX_RUNTIME_STRING - 1)}`] } }, 'x');
    const refused = (spec: unknown) => {
      try {
        checkRuntimeStrings(spec, 'runc create failed');
      } catch (e) {
        assert.ok(e instanceof RuntimeStartError);
        return e.message;
      }
      assert.fail('accepted');
    };
    assert.equal(
      refused({ ...ok, linux: { maskedPaths: ['/proc/kcore', `/${long}`] } }),
      `runc create failed: linux.maskedPaths[1] is ${MAX_RUNTIME_STRING + 2} bytes long: file name too long (the limit is ${MAX_RUNTIME_STRING})`,
    );
    assert.match(refused({ process: { args: [long] } }), /^runc create failed: process\.args\[0\] is 4097 bytes/);
    assert.match(refused({ process: { args: ['sh'], cwd: `/${'é'.repeat(2100)}` } }), /process\.cwd is 4201 bytes/);
    assert.match(refused({ mounts: [{ destination: '/t', options: ['rw', long] }] }), /mounts\[0\]\.options\[1\]/);
  });
});
