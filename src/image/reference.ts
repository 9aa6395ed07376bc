/**
 * Docker image references: parsing, normalisation (`busybox` -> docker.io/library/busybox:latest)
 * and the familiar form Docker prints (`busybox:latest`, `myreg:5000/x:1`). Grammar and error
 * texts follow the distribution/reference package that Docker uses.
 */
import { invalidParameter } from '../lib/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;

const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;
const anchoredDigestRe = /^sha256:[a-f0-9]{64}$/;

export const ERR_INVALID_FORMAT = 'invalid reference format';

/** A parsed, normalised reference. `domain` and `path` are always filled (docker.io, library/x). */
export interface Reference {
  domain: string;
  /** Repository path inside the domain, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  /** `sha256:<64 hex>` */
  digest?: string;
}

function fail(msg: string): never {
  throw invalidParameter(msg);
}

/** Splits `name` into domain and remainder the way Docker's splitDockerDomain does. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (
    i === -1 ||
    (!/[.:]/.test(name.slice(0, i)) && name.slice(0, i) !== 'localhost' && name.slice(0, i).toLowerCase() === name.slice(0, i))
  ) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = name.slice(0, i);
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses a user-supplied reference as Docker's ParseNormalizedNamed does. Throws InvalidParameter
 * with Docker's messages. Does not add a default tag (see withDefaultTag).
 */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRe.test(s)) {
    fail(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const nameEnd = nameEndIndex(s);
  const { domain, remainder } = splitDomain(s.slice(0, nameEnd));
  if (remainder.toLowerCase() !== remainder) {
    fail(`${ERR_INVALID_FORMAT}: repository name (${remainder}) must be lowercase`);
  }
  const full = `${domain}/${remainder}${s.slice(nameEnd)}`;
  const m = referenceRe.exec(full);
  if (!m) {
    if (s === '') fail(`${ERR_INVALID_FORMAT}`);
    fail(ERR_INVALID_FORMAT);
  }
  if (m[1]!.length > NAME_TOTAL_LENGTH_MAX) {
    fail(`${ERR_INVALID_FORMAT}: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const digest = m[3];
  if (digest !== undefined && !anchoredDigestRe.test(digest)) {
    fail('invalid digest format');
  }
  const ref: Reference = { domain, path: remainder };
  if (m[2] !== undefined) ref.tag = m[2];
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** End of the name part: before `@`, or before the last `:` that follows the last `/`. */
function nameEndIndex(s: string): number {
  const at = s.indexOf('@');
  const base = at === -1 ? s : s.slice(0, at);
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) return colon;
  return base.length;
}

/** Adds `latest` when the reference has neither tag nor digest (Docker's TagNameOnly). */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag === undefined && ref.digest === undefined) return { ...ref, tag: DEFAULT_TAG };
  return ref;
}

/** `docker.io/library/busybox` */
export function fullName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `busybox`, `foo/bar`, `myreg:5000/x` */
export function familiarName(ref: Reference): string {
  if (ref.domain === DEFAULT_DOMAIN) {
    return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) === -1
      ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
      : ref.path;
  }
  return `${ref.domain}/${ref.path}`;
}

/** `busybox:latest`, `x@sha256:…`, `x:1@sha256:…` */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** `docker.io/library/busybox:latest` */
export function fullString(ref: Reference): string {
  let s = fullName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

export function isValidTag(tag: string): boolean {
  return anchoredTagRe.test(tag);
}

/** True for a bare 64-hex ID or `sha256:<64 hex>`. */
export function isFullImageId(s: string): boolean {
  return anchoredIdentifierRe.test(s) || anchoredDigestRe.test(s);
}

