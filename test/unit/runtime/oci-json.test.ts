import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ociJson } from '../../../src/runtime/oci-json.js';

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

});
