import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MALLOC_TRIM_JS = fileURLToPath(new URL('../../../src/lib/malloc-trim.js', import.meta.url));
const EXTRACT_POOL_JS = fileURLToPath(new URL('../../../src/layer/extract-pool.js', import.meta.url));

/**
 * In a fresh node: 64 MB of 64 KiB buffers (below glibc's mmap threshold, so on the heap) with a
 * small buffer kept after every sixteenth, so that the freed ones lie below live data; then all
 * the big ones dropped and collected. Prints the RSS before, with the garbage freed, and after
 * `release` (a JS body) ran.
 */
function fragmentedHeapScript(imports: string, release: string): string {
  return `
    import { readFileSync } from 'node:fs';
    import { setTimeout as sleep } from 'node:timers/promises';
    ${imports}
    const rssMb = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const start = rssMb();
    let big = [];
    const pins = [];
    for (let i = 0; i < 1024; i++) {
      big.push(Buffer.allocUnsafeSlow(65536).fill(i));
      if (i % 16 === 15) pins.push(Buffer.allocUnsafeSlow(2048).fill(i));
    }
    big = null;
    // ArrayBuffers are freed by a sweeper after the collection: wait until they are.
    for (let i = 0; i < 200 && process.memoryUsage().arrayBuffers > 8 << 20; i++) { globalThis.gc(); await sleep(10); }
    const freed = rssMb();
    ${release}
    console.log(JSON.stringify({ start, freed, after: rssMb(), pins: pins.length, arrayBuffersMb: process.memoryUsage().arrayBuffers / 1048576 }));
  `;
}

function runInChild(script: string): { start: number; freed: number; after: number; trimmed?: boolean; arrayBuffersMb: number } {
  // A file, not -e: a worker thread inherits node's arguments.
  const dir = mkdtempSync(join(tmpdir(), 'malloc-trim-'));
  try {
    writeFileSync(join(dir, 'heap.mjs'), script);
    return JSON.parse(execFileSync(process.execPath, ['--expose-gc', join(dir, 'heap.mjs'), dir], { encoding: 'utf8' }).trim().split('\n').pop()!) as ReturnType<typeof runInChild>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('returnFreedMemory: freed heap memory that glibc kept resident goes back to the kernel', () => {
  const out = runInChild(
    fragmentedHeapScript(
      `const { canReturnFreedMemory, returnFreedMemory } = await import(${JSON.stringify(MALLOC_TRIM_JS)});
       if (!canReturnFreedMemory()) throw new Error('malloc-trim.node is not built (scripts/bundle-daemon.mjs)');`,
      'globalThis.trimmed = returnFreedMemory();',
    ).replace('console.log(JSON.stringify({', 'console.log(JSON.stringify({ trimmed: globalThis.trimmed,'),
  );
  assert.ok(out.arrayBuffersMb < 8, `the buffers were collected: ${JSON.stringify(out)}`);
  // Without the trim glibc keeps them: that is what the addon is for.
  assert.ok(out.freed - out.start > 40, `freed but still resident before the trim: ${JSON.stringify(out)}`);
  assert.equal(out.trimmed, true);
  assert.ok(out.freed - out.after > 40, `returned to the kernel: ${JSON.stringify(out)}`);
});

test('an extraction worker that ends hands what the process freed back to the kernel', () => {
  // A pool that keeps no idle worker: the worker ends as soon as its (empty) layer is extracted.
  const out = runInChild(
    fragmentedHeapScript(
      `import { join } from 'node:path';
       import { Readable } from 'node:stream';
       const { ExtractPool } = await import(${JSON.stringify(EXTRACT_POOL_JS)});`,
      `const dir = process.argv[2];
       const pool = new ExtractPool(0, 0);
       await pool.extract(Readable.from([Buffer.alloc(1024)]), join(dir, 'diff'), join(dir, 'tar-split.json.gz'));
       for (let i = 0; i < 500 && freed - rssMb() < 40; i++) await sleep(10);`,
    ),
  );
  assert.ok(out.freed - out.start > 40, `freed but still resident before the worker ended: ${JSON.stringify(out)}`);
  assert.ok(out.freed - out.after > 40, `returned to the kernel once the worker ended: ${JSON.stringify(out)}`);
});

test('trimWhenQuiet: once nothing happened for the quiet period, the freed memory goes back', () => {
  const out = runInChild(
    fragmentedHeapScript(
      `const { trimWhenQuiet } = await import(${JSON.stringify(MALLOC_TRIM_JS)});`,
      `const quiet = trimWhenQuiet(200);
       quiet.activity();
       for (let i = 0; i < 500 && freed - rssMb() < 40; i++) await sleep(10);
       quiet.stop();`,
    ),
  );
  assert.ok(out.freed - out.start > 40, `freed but still resident before the quiet period: ${JSON.stringify(out)}`);
  assert.ok(out.freed - out.after > 40, `returned to the kernel after the quiet period: ${JSON.stringify(out)}`);
});
