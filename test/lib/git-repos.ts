/**
 * Git repositories for the build tests: `git` run as a throwaway identity with a chosen default
 * branch, and `git daemon` serving a directory of bare repositories on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { freePort } from './http.js';

/** Runs git in `cwd` and fails the test when it fails. */
export function gitRunner(defaultBranch: string): (cwd: string, ...args: string[]) => Promise<void> {
  return (cwd, ...args) =>
    new Promise((resolve) => {
      execFile('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', `init.defaultBranch=${defaultBranch}`, ...args], { cwd }, (err, _out, stderr) => {
        assert.equal(err, null, `git ${args.join(' ')}: ${stderr}`);
        resolve();
      });
    });
}

/**
 * Commits what `src` holds as a new repository's first commit, then on a branch `branch` what
 * `change` writes; the default branch stays checked out.
 */
export async function twoBranchRepo(g: ReturnType<typeof gitRunner>, src: string, defaultBranch: string, branch: string, change: () => Promise<void>): Promise<void> {
  await g(src, 'init', '-q');
  await g(src, 'add', '-A');
  await g(src, 'commit', '-qm', 'one');
  await g(src, 'checkout', '-qb', branch);
  await change();
  await g(src, 'commit', '-qam', 'two');
  await g(src, 'checkout', '-q', defaultBranch);
}

const lsRemote = (url: string) => new Promise<boolean>((resolve) => execFile('git', ['ls-remote', url], (err) => resolve(err === null)));

/** Serves the bare repositories under `repos` until `stop`; `base` is `git://127.0.0.1:<port>`. Waits until `probe` (a repository's name) answers. */
export async function serveGitRepos(repos: string, probe: string): Promise<{ base: string; stop: () => void }> {
  const port = await freePort();
  const daemon = spawn('git', ['daemon', '--export-all', '--reuseaddr', `--base-path=${repos}`, '--listen=127.0.0.1', `--port=${port}`, repos], { stdio: 'ignore' });
  const base = `git://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  while (!(await lsRemote(`${base}/${probe}`))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      daemon.kill();
      throw new Error('git daemon did not answer');
    }
  }
  return { base, stop: () => daemon.kill() };
}
