/**
 * Git build contexts, as Docker's classic builder and CLI take them: `git://…`, `git@…`,
 * `github.com/…` or an http(s) URL ending in `.git`, with an optional `#ref:subdir` fragment.
 * The repository is fetched with the `git` command (as moby does) into a temporary directory.
 * URLs and refs come from clients: they go to git as separate arguments after `--`, refs may not
 * look like options, and git may not read the host's or root's configuration nor use the `file`
 * and `ext` transports (a hostile repository's submodules could otherwise read host paths or run
 * commands).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join, sep } from 'node:path';
import { parseGoBool } from '../lib/go-bool.js';

/** moby's urlutil.IsGitURL. */
export function isGitUrl(s: string): boolean {
  if (/^https?:\/\//i.test(s) && /\.git(?:#.+)?$/.test(s)) return true;
  return ['git://', 'github.com/', 'git@'].some((p) => s.startsWith(p));
}

export interface GitRemote {
  remote: string;
  ref: string;
  subdir: string;
  /** Whether submodules are fetched (default: yes). */
  submodules?: boolean;
}

/** A git source of BuildKit's ADD: the remote and what its URL's fragment and query ask for. */
export interface BuildkitGitRef extends GitRemote {
  keepGitDir?: boolean;
  /** The commit (or a prefix of it) the ref must resolve to. */
  checksum?: string;
}

export class GitContextError extends Error {}

/** A URL fragment's `ref:subdir`. */
function splitFragment(fragment: string): { ref: string; subdir: string } {
  const colon = fragment.indexOf(':');
  return colon < 0 ? { ref: fragment, subdir: '' } : { ref: fragment.slice(0, colon), subdir: fragment.slice(colon + 1) };
}

/** `repo`, refused when its ref would be read by git as an option. */
function checkedRef<T extends GitRemote>(repo: T): T {
  if (repo.ref.startsWith('-')) throw new GitContextError(`invalid refspec: ${repo.ref}`);
  return repo;
}

/** The URL's `#…`, unescaped. */
function urlFragment(u: URL, src: string): string {
  try {
    return decodeURIComponent(u.hash.replace(/^#/, ''));
  } catch {
    throw new GitContextError(`parse "${src}": invalid URL escape in its fragment`);
  }
}

/** `defaultRef`: the ref without a fragment naming one (moby's classic builder: master; BuildKit: the remote's HEAD). */
export function parseGitUrl(url: string, defaultRef = 'master'): GitRemote {
  let full = url;
  if (!/^(?:https?|git):\/\//i.test(full) && !full.startsWith('git@')) full = `https://${full}`;
  let remote: string;
  let fragment = '';
  if (full.startsWith('git@')) {
    const i = full.indexOf('#');
    remote = i < 0 ? full : full.slice(0, i);
    fragment = i < 0 ? '' : full.slice(i + 1);
  } else {
    let u: URL;
    try {
      u = new URL(full);
    } catch {
      throw new GitContextError(`parse "${url}": invalid URL`);
    }
    fragment = urlFragment(u, url);
    u.hash = '';
    remote = u.toString();
  }
  const { ref, subdir } = splitFragment(fragment);
  return checkedRef({ remote, ref: ref || defaultRef, subdir });
}

/**
 * BuildKit's ParseGitRef for ADD: null for a source that is not a git repository's URL (a local
 * path, an http(s) URL whose path does not end in `.git`, or the `github.com/…` form, which it
 * reads as a path there). The fragment names `ref:subdir`; the query `ref`, `tag`, `branch`,
 * `subdir`, `checksum`/`commit`, `keep-git-dir` and `submodules`, as BuildKit's frontend reads them.
 */
export function parseBuildkitGitRef(src: string): BuildkitGitRef | null {
  let scheme: string;
  let remote: string;
  let fragment = '';
  let query = '';
  const proto = /^([a-zA-Z0-9]+):\/\//.exec(src);
  if (proto) {
    scheme = proto[1]!.toLowerCase();
    if (!['http', 'https', 'git', 'ssh'].includes(scheme)) return null;
    let u: URL;
    try {
      u = new URL(src);
    } catch {
      throw new GitContextError(`parse "${src}": invalid URL`);
    }
    if ((scheme === 'http' || scheme === 'https') && !u.pathname.endsWith('.git')) return null;
    fragment = urlFragment(u, src);
    query = u.search.replace(/^\?/, '');
    u.hash = '';
    u.search = '';
    remote = u.toString();
  } else {
    // scp-like ssh: user@host:path
    const scp = /^([^@/:\s]+@[^:/\s]+:)([^#?]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(src);
    if (!scp) return null;
    scheme = 'ssh';
    remote = scp[1]! + scp[2]!;
    query = scp[3] ?? '';
    fragment = scp[4] ?? '';
  }
  const ref: BuildkitGitRef = { remote, ...splitFragment(fragment) };
  if (query) applyGitQuery(ref, new URLSearchParams(query));
  checkedRef(ref);
  ref.ref ||= 'HEAD';
  return ref;
}

function applyGitQuery(ref: BuildkitGitRef, q: URLSearchParams): void {
  const bool = (k: string, v: string) => {
    if (v === '') return true;
    const b = parseGoBool(v);
    if (b === undefined) throw new GitContextError(`invalid ${k} value: ${JSON.stringify(v)}`);
    return b;
  };
  let tag = '';
  let branch = '';
  const set = (what: 'ref' | 'subdir', v: string) => {
    if (ref[what] !== '' && ref[what] !== v) throw new GitContextError(`${what} conflicts: ${JSON.stringify(ref[what])} vs ${JSON.stringify(v)}`);
    ref[what] = v;
  };
  for (const k of new Set(q.keys())) {
    const all = q.getAll(k);
    if (all.length > 1) throw new GitContextError(`query ${JSON.stringify(k)} has multiple values`);
    const v = all[0]!;
    if (v === '' && !['submodules', 'keep-git-dir', 'fetch-by-commit'].includes(k)) throw new GitContextError(`query ${JSON.stringify(k)} has no value`);
    switch (k) {
      case 'ref':
      case 'subdir':
        set(k, v);
        break;
      case 'tag':
        tag = v;
        break;
      case 'branch':
        branch = v;
        break;
      case 'checksum':
      case 'commit':
        ref.checksum = v;
        break;
      case 'keep-git-dir':
        ref.keepGitDir = bool(k, v);
        break;
      case 'submodules':
        ref.submodules = bool(k, v);
        break;
      case 'fetch-by-commit':
        bool(k, v); // the commit is checked after the fetch either way
        break;
      default:
        throw new GitContextError(`unexpected query ${JSON.stringify(k)}`);
    }
  }
  if (tag) set('ref', tag.startsWith('refs/tags/') ? tag : `refs/tags/${tag}`);
  if (branch) {
    if (tag) throw new GitContextError('branch conflicts with tag');
    set('ref', branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`);
  }
}

const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_PROTOCOL_FROM_USER: '0',
  // Only network transports, for the repository and every submodule.
  GIT_ALLOW_PROTOCOL: 'http:https:git:ssh',
};

/** GIT_ENV, with ssh as BuildKit's git source runs it when given an agent: that agent, no ssh configuration of the host's, host keys not checked. */
function gitEnv(opts: { sshAuthSock?: string }): Record<string, string> {
  if (!opts.sshAuthSock) return GIT_ENV;
  return { ...GIT_ENV, SSH_AUTH_SOCK: opts.sshAuthSock, GIT_SSH_COMMAND: 'ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' };
}

function runGit(dir: string, args: string[], signal?: AbortSignal, env: Record<string, string> = GIT_ENV): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['-c', 'protocol.file.allow=never', ...args], { cwd: dir, env, signal, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new GitContextError(`${(stderr || stdout || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

/** The commit a checkout of cloneGitRepo is at. */
export async function checkedOutCommit(dir: string): Promise<string> {
  return (await runGit(dir, ['rev-parse', 'HEAD'])).trim();
}

/** How long the smart-server probe waits for an answer's head. */
const PROBE_TIMEOUT_MS = 30_000;

/** The status and content type of a HEAD or GET of `url` (the body is never read); undefined on any failure. */
function probe(url: string, method: 'HEAD' | 'GET', signal?: AbortSignal): Promise<{ status: number; type: string } | undefined> {
  return new Promise((resolve) => {
    let req: ReturnType<typeof httpRequest>;
    try {
      req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, signal, timeout: PROBE_TIMEOUT_MS }, (res: IncomingMessage) => {
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? '') });
        res.destroy();
      });
    } catch {
      resolve(undefined);
      return;
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * moby's supportsShallowClone: a `--depth 1` fetch needs git's smart protocol, which a plain
 * ("dumb") HTTP server does not speak. Over http(s) the remote is asked for git-upload-pack's
 * advertisement (HEAD, then GET): only a smart server's answer gets the shallow fetch.
 */
async function supportsShallowClone(remote: string, signal?: AbortSignal): Promise<boolean> {
  if (!/^https?:/i.test(remote)) return true;
  const url = `${remote}/info/refs?service=git-upload-pack`;
  let res = await probe(url, 'HEAD', signal);
  if (res?.status !== 200) res = await probe(url, 'GET', signal);
  return res?.status === 200 && res.type === 'application/x-git-upload-pack-advertisement';
}

/**
 * Fetches `url` into a new directory under `tmpRoot`; returns it and the context directory in
 * it (the subdir). The caller removes `dir`.
 */
export async function cloneGitContext(url: string, tmpRoot: string, signal?: AbortSignal): Promise<{ dir: string; context: string }> {
  return cloneGitRepo(parseGitUrl(url), tmpRoot, signal);
}

/** cloneGitContext of a parsed remote; `sshAuthSock`: see gitEnv. */
export async function cloneGitRepo(repo: GitRemote, tmpRoot: string, signal?: AbortSignal, opts: { sshAuthSock?: string } = {}): Promise<{ dir: string; context: string }> {
  const env = gitEnv(opts);
  const git = (cwd: string, args: string[], sig?: AbortSignal) => runGit(cwd, args, sig, env);
  const dir = await mkdtemp(join(tmpRoot, 'docker-builder-git'));
  try {
    await git(dir, ['init', '-q']);
    await git(dir, ['remote', 'add', 'origin', '--', repo.remote]).catch((err: Error) => {
      throw new GitContextError(`failed add origin repo at ${repo.remote}: ${err.message}`);
    });
    const depth = (await supportsShallowClone(repo.remote, signal)) ? ['--depth', '1'] : [];
    await git(dir, ['fetch', '-q', ...depth, 'origin', '--', repo.ref], signal).catch((err: Error) => {
      throw new GitContextError(`error fetching: ${err.message}`);
    });
    await git(dir, ['checkout', '-q', 'FETCH_HEAD']).catch((err: Error) => {
      throw new GitContextError(`error checking out ${repo.ref}: ${err.message}`);
    });
    if (repo.submodules !== false) {
      await git(dir, ['submodule', 'update', '-q', '--init', '--recursive', '--depth=1'], signal).catch((err: Error) => {
        throw new GitContextError(`error initializing submodules: ${err.message}`);
      });
    }
    let context = dir;
    if (repo.subdir) {
      // The checkout is ours and no longer changes, so resolving then checking is not racy.
      const real = await realpath(join(dir, repo.subdir)).catch(() => null);
      const top = await realpath(dir);
      if (!real || (real !== top && !real.startsWith(top + sep))) {
        throw new GitContextError(`error setting git context, "${repo.subdir}" not within git root`);
      }
      if (!(await stat(real)).isDirectory()) throw new GitContextError(`error setting git context, not a directory: ${real}`);
      context = real;
    }
    return { dir, context };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A full commit ID (SHA-1 or SHA-256), which BuildKit takes as it is, asking the remote nothing. */
const isCommitId = (ref: string) => /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(ref);

/** urlutil.RedactCredentials: a URL's password shown as xxxxx. */
function redacted(remote: string): string {
  try {
    const u = new URL(remote);
    if (!u.password) return remote;
    u.password = 'xxxxx';
    return u.toString();
  } catch {
    return remote;
  }
}

/**
 * The commit BuildKit's git source resolves a ref to before it fetches anything (its cache key),
 * in its words when it cannot: a commit ID as it is; HEAD as the remote's default branch; then
 * `git ls-remote` of the ref, preferring `refs/<ref>`, then the branch, then the tag (an
 * annotated tag's commit). Run in `cwd` (a directory of the daemon's, no repository), git never
 * looking above it for one.
 */
export async function resolveRemoteCommit(repo: GitRemote, cwd: string, signal?: AbortSignal, opts: { sshAuthSock?: string } = {}): Promise<string> {
  if (isCommitId(repo.ref)) return repo.ref;
  const env = { ...gitEnv(opts), GIT_CEILING_DIRECTORIES: dirname(cwd) };
  const git = (args: string[]) => runGit(cwd, args, signal, env);
  let ref = repo.ref;
  if (ref === 'HEAD' || ref === '') {
    const symref = await git(['ls-remote', '--symref', '--', repo.remote, 'HEAD']).catch((err: Error) => {
      throw new GitContextError(`error fetching default branch for repository ${redacted(repo.remote)}: ${err.message}`);
    });
    const branch = /refs\/heads\/(\S+)/.exec(symref)?.[1];
    if (!branch) throw new GitContextError(`could not find default branch for repository: ${redacted(repo.remote)}`);
    ref = branch;
  }
  const out = await git(['ls-remote', '--', repo.remote, ref, `${ref}^{}`]).catch((err: Error) => {
    throw new GitContextError(`failed to fetch remote ${redacted(repo.remote)}: ${err.message}`);
  });
  const partialRef = `refs/${ref.replace(/^refs\//, '')}`;
  const headRef = `refs/heads/${ref.replace(/^refs\/heads\//, '')}`;
  const tagRef = `refs/tags/${ref.replace(/^refs\/tags\//, '')}`;
  let exact = '';
  let head = '';
  let tag = '';
  for (const line of out.split('\n')) {
    const tab = line.indexOf('\t');
    const [sha, name] = tab < 0 ? [line, ''] : [line.slice(0, tab), line.slice(tab + 1)];
    if (name === headRef) head = sha;
    else if (name === tagRef || name === `${tagRef}^{}`) tag = sha;
    else if (name === partialRef) exact = sha;
  }
  // As git's checkout, a branch wins over a tag of the same name.
  const sha = exact || head || tag;
  if (!sha) throw new GitContextError(`repository does not contain ref ${ref}, output: ${JSON.stringify(out)}`);
  if (!isCommitId(sha)) throw new GitContextError(`invalid commit sha ${JSON.stringify(sha)}`);
  return sha;
}
