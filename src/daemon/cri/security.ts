/**
 * The parts of a CRI security context that become the engine's SecurityOpt and OOM score: seccomp
 * profiles (RuntimeDefault, Unconfined, a Localhost profile file), no-new-privileges, and
 * containerd's `restrict_oom_score_adj`.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { SecurityProfile__Output } from '../../cri/gen/runtime/v1/SecurityProfile.js';
import { invalidParameter } from '../../lib/errors.js';

/** Bounds what the daemon reads for a Localhost profile (kubelet's are a few KiB). */
const MAX_SECCOMP_PROFILE_BYTES = 1 << 20;

/**
 * SecurityOpt entries for a seccomp profile. CRI's default (no profile) is Unconfined, unlike
 * Docker's; the deprecated `seccomp_profile_path` (`runtime/default`, `unconfined`,
 * `localhost/<path>`) is read when the field is not set. A Localhost profile is a file on the
 * host that kubelet names (the CRI socket is root's, as kubelet is); its content is passed on.
 */
export async function seccompSecurityOpt(profile: SecurityProfile__Output | null | undefined, legacyPath: string | undefined): Promise<string[]> {
  let type = profile?.profile_type;
  let localhost = profile?.localhost_ref ?? '';
  if (!profile && legacyPath) {
    if (legacyPath === 'runtime/default' || legacyPath === 'docker/default') type = 'RuntimeDefault';
    else if (legacyPath === 'unconfined') type = 'Unconfined';
    else if (legacyPath.startsWith('localhost/')) {
      type = 'Localhost';
      localhost = legacyPath.slice('localhost/'.length);
    } else throw invalidParameter(`unsupported seccomp profile ${JSON.stringify(legacyPath)}`);
  }
  if (!type || type === 'Unconfined') return ['seccomp=unconfined'];
  if (type === 'RuntimeDefault') return [];
  if (!isAbsolute(localhost)) throw invalidParameter(`seccomp profile path ${JSON.stringify(localhost)} must be absolute`);
  let text: string;
  try {
    const buf = await readFile(localhost);
    if (buf.length > MAX_SECCOMP_PROFILE_BYTES) throw new Error('profile too large');
    text = buf.toString('utf8');
  } catch (err) {
    throw invalidParameter(`failed to load seccomp profile ${JSON.stringify(localhost)}: ${(err as Error).message}`);
  }
  return [`seccomp=${text}`];
}

let daemonOomScoreAdj: number | undefined;

/**
 * containerd's `restrict_oom_score_adj`: a value below the daemon's own is raised to it. Lowering
 * an OOM score needs CAP_SYS_RESOURCE, which root does not have in every environment (not in this
 * sandbox); kubelet asks for -997/-998 for critical pods and the container would fail to start.
 */
export function restrictOomScoreAdj(requested: number): number {
  if (daemonOomScoreAdj === undefined) {
    try {
      daemonOomScoreAdj = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
    } catch {
      daemonOomScoreAdj = 0;
    }
  }
  return Math.max(requested, daemonOomScoreAdj);
}
