import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const YOUNG_GENERATION_JS = fileURLToPath(new URL('../../../src/lib/young-generation.js', import.meta.url));
const EXTRACT_POOL_JS = fileURLToPath(new URL('../../../src/layer/extract-pool.js', import.meta.url));

test('young generation: stays at its initial size under churn, also after a layer extraction worker started', () => {
  // In a child node: churn short-lived objects (V8 grows the nursery to 2 x 16 MB under this),
  // then extract an (empty) layer on the pool's worker thread, whose start-up resets V8's flags,
  // and churn again.
  const script = `
    import v8 from 'node:v8';
    import { join } from 'node:path';
    import { Readable } from 'node:stream';
    const { keepYoungGenerationSmall } = await import(${JSON.stringify(YOUNG_GENERATION_JS)});
    const { ExtractPool } = await import(${JSON.stringify(EXTRACT_POOL_JS)});
    const newSpaceMb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    const churn = () => { let keep = []; for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1000) keep = []; } };
    keepYoungGenerationSmall();
    churn();
    const before = newSpaceMb();
    const dir = process.argv[2];
    const pool = new ExtractPool(0, 0);
    await pool.extract(Readable.from([Buffer.alloc(1024)]), join(dir, 'diff'), join(dir, 'tar-split.json.gz'));
    churn();
    console.log(JSON.stringify({ before, after: newSpaceMb() }));
    await pool.close();
  `;
  // A file, not -e: the worker thread inherits node's arguments.
  const dir = mkdtempSync(join(tmpdir(), 'young-gen-'));
  let out: { before: number; after: number };
  try {
    writeFileSync(join(dir, 'churn.mjs'), script);
    out = JSON.parse(execFileSync(process.execPath, [join(dir, 'churn.mjs'), dir], { encoding: 'utf8' })) as typeof out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(out.before <= 4, `new space after churn: ${out.before} MB`);
  assert.ok(out.after <= 4, `new space after churn once a worker started: ${out.after} MB`);
});
