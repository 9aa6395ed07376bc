/**
 * Extended attributes from untrusted tars. A name and a value go to the kernel as they are, one
 * lsetxattr(2) call each (@napi-rs/xattr: no text protocol, no process, and the final path
 * component is never followed), and only after checking them as the kernel would see them:
 * a known namespace, no NUL or newline, at most XATTR_NAME_MAX bytes, a value of at most
 * XATTR_SIZE_MAX bytes.
 */
import { getAttributeSync, listAttributesSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { invalidParameter, systemError } from '../lib/errors.js';

/** Linux's limits (include/uapi/linux/limits.h). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;

const NAMESPACES = ['user.', 'trusted.', 'security.', 'system.'];

/**
 * overlayfs keeps its own state in `trusted.overlay.*` (opaque, redirect, metacopy, origin,
 * whiteout…): a layer that carried them would steer the mount of every image built on it, e.g.
 * redirect a directory to another path of the lower layers or make a file's data come from
 * another inode. Docker's and OCI's layers say "opaque" with a `.wh..wh..opq` entry and nothing
 * else of overlay's, so a layer may set none of them; the extractor sets opaque itself.
 */
const OVERLAY_PRIVATE = 'trusted.overlay.';

/** Throws InvalidParameter unless `name`/`value` is an attribute a tar entry may carry. */
export function checkXattr(entry: string, name: string, value: Buffer): void {
  const bad = (why: string) => invalidParameter(`invalid xattr ${JSON.stringify(name)} on ${JSON.stringify(entry)}: ${why}`);
  if (name.includes('\0') || name.includes('\n')) throw bad('name contains a NUL or newline');
  const ns = NAMESPACES.find((p) => name.startsWith(p));
  if (ns === undefined || name.length === ns.length) throw bad(`name must be in the ${NAMESPACES.map((p) => p + '*').join(', ')} namespaces`);
  if (Buffer.byteLength(name, 'utf8') > XATTR_NAME_MAX) throw bad(`name is longer than ${XATTR_NAME_MAX} bytes`);
  if (value.length > XATTR_SIZE_MAX) throw bad(`value is longer than ${XATTR_SIZE_MAX} bytes`);
}

/** The rule for attributes a layer or an archive may write (see OVERLAY_PRIVATE). */
export function checkWritableXattr(entry: string, name: string): void {
  if (name.startsWith(OVERLAY_PRIVATE)) {
    throw invalidParameter(`invalid xattr ${JSON.stringify(name)} on ${JSON.stringify(entry)}: overlay's private attributes cannot be set by an image or archive`);
  }
}

/** lsetxattr(2): sets one attribute on `path` itself, never on what a symlink there points to. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  try {
    setAttributeSync(path, name, value);
  } catch (err) {
    throw systemError(`lsetxattr ${path} ${name}: ${(err as Error).message}`, err);
  }
}

/** lgetxattr(2): the attribute of `path` itself (never what a symlink there points to); null when it has none or it cannot be read. */
export function lgetxattr(path: string, name: string): Buffer | null {
  try {
    return getAttributeSync(path, name);
  } catch {
    return null;
  }
}

/** llistxattr(2): the names of the attributes of `path` itself. */
export function llistxattr(path: string): string[] {
  return listAttributesSync(path);
}

/** lremovexattr(2) on `path` itself. */
export function lremovexattr(path: string, name: string): void {
  removeAttributeSync(path, name);
}

/** Removes every attribute of `path` itself (never of what a symlink there points to). */
export function removeAllXattrs(path: string): void {
  for (const name of llistxattr(path)) lremovexattr(path, name);
}

const EPERM = 1;
const ENOTSUP = 95;

/** The errno of a failed lsetxattr(), or null. */
function errnoOf(err: unknown): number | null {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const m = cause instanceof Error ? /\(os error (\d+)\)$/.exec(cause.message) : null;
  return m ? Number(m[1]) : null;
}

/** EPERM: the kernel does not allow the attribute on this file (user.* on a symlink); Docker skips these. */
export function xattrNotPermitted(err: unknown): boolean {
  return errnoOf(err) === EPERM;
}

/** EPERM or ENOTSUP: the file or the file system does not take the attribute. */
export function xattrRefusedByKernel(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno === EPERM || errno === ENOTSUP;
}

/**
 * Whether the directory `path` has a default ACL (its new entries take their mode from it, not
 * from the umask). When that cannot be read, the answer is yes: the caller then takes no shortcut.
 */
export function hasDefaultAcl(path: string): boolean {
  try {
    return getAttributeSync(path, 'system.posix_acl_default') !== null;
  } catch {
    return true;
  }
}
