import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN_JS = fileURLToPath(new URL('../../../src/lib/run.js', import.meta.url));

test('run: a spawn that fails for lack of descriptors rejects, it never throws out of band', () => {
  // A child node with a small descriptor limit fills it, then runs a tool: the pipes cannot be
  // made (EMFILE). An 'error' without a listener would kill it with an uncaught exception.
  const script = `
    import { openSync } from 'node:fs';
    const { run } = await import(${JSON.stringify(RUN_JS)});
    process.on('uncaughtException', (e) => { console.log('UNCAUGHT ' + e.message); process.exit(3); });
    try { for (;;) openSync('/dev/null', 'r'); } catch {}
    const r = await run('true', []).then(() => 'resolved', (e) => 'rejected ' + e.name + ': ' + e.message);
    await new Promise((ok) => setTimeout(ok, 100));
    console.log(r);
  `;
  const out = execFileSync('prlimit', ['--nofile=64:64', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.match(out, /^rejected CommandError: true: .*EMFILE/m);
  assert.doesNotMatch(out, /UNCAUGHT/);
});
