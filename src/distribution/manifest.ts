/**
 * Image manifests the registry client understands: Docker schema2 and OCI image manifests,
 * Docker manifest lists and OCI indexes (with platform selection, as Docker selects).
 */
import { invalidParameter, notFound } from '../lib/errors.js';

export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MEDIA_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const MEDIA_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** Accept header for manifest GETs, in the order Docker sends it. */
export const MANIFEST_ACCEPT = [MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX];

const LAYER_MEDIA = new Set([
  MEDIA_DOCKER_LAYER_GZIP,
  MEDIA_DOCKER_FOREIGN_LAYER,
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export type Manifest = ImageManifest | ManifestIndex;

const digestRe = /^sha256:[a-f0-9]{64}$/;

const optionalString = (v: unknown) => v === undefined || typeof v === 'string';

function checkDescriptor(d: unknown, what: string): Descriptor {
  const o = d as Descriptor;
  if (!o || typeof o !== 'object' || typeof o.digest !== 'string' || !digestRe.test(o.digest) || typeof o.size !== 'number' || o.size < 0) {
    throw invalidParameter(`invalid ${what} descriptor in manifest`);
  }
  const p = o.platform as unknown as Record<string, unknown> | undefined;
  const platformOk =
    p === undefined || (typeof p === 'object' && p !== null && typeof p.os === 'string' && typeof p.architecture === 'string' && optionalString(p.variant) && optionalString(p['os.version']));
  if (!optionalString(o.mediaType) || !platformOk) throw invalidParameter(`invalid ${what} descriptor in manifest`);
  return o;
}

/** Parses manifest bytes; `contentType` is the response's Content-Type (mediaType in the body wins). */
export function parseManifest(raw: Buffer, contentType: string | undefined): Manifest {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalidParameter('invalid manifest: not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidParameter('invalid manifest: not a JSON object');
  const ct = (contentType ?? '').split(';')[0]!.trim();
  let mediaType = typeof body.mediaType === 'string' ? body.mediaType : ct;
  if (!mediaType || mediaType === 'application/json') {
    // OCI manifests may omit mediaType: decide by shape.
    mediaType = Array.isArray(body.manifests) ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST;
  }
  if (mediaType === MEDIA_SCHEMA1 || body.schemaVersion === 1) {
    throw invalidParameter('unsupported manifest format: Docker Image manifest v2, Schema 1 is no longer supported');
  }
  if (mediaType === MEDIA_DOCKER_LIST || mediaType === MEDIA_OCI_INDEX) {
    if (!Array.isArray(body.manifests)) throw invalidParameter('invalid manifest list: no manifests');
    return { kind: 'index', mediaType, manifests: body.manifests.map((m) => checkDescriptor(m, 'manifest')) };
  }
  if (mediaType === MEDIA_DOCKER_MANIFEST || mediaType === MEDIA_OCI_MANIFEST) {
    if (!Array.isArray(body.layers)) throw invalidParameter('invalid manifest: no layers');
    const layers = body.layers.map((l) => checkDescriptor(l, 'layer'));
    for (const l of layers) {
      if (!LAYER_MEDIA.has(l.mediaType)) throw invalidParameter(`unsupported media type ${l.mediaType}`);
    }
    return { kind: 'manifest', mediaType, config: checkDescriptor(body.config, 'config'), layers };
  }
  throw invalidParameter(`unsupported manifest media type and no default available: ${mediaType}`);
}

const OS_AND_VERSION = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$/;
const SPECIFIER_COMPONENT = /^[A-Za-z0-9_.-]+$/;
const KNOWN_OS = new Set('aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris windows zos'.split(' '));
const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm'.split(' '),
);
const ARCH_ALIAS: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', armhf: 'arm', armel: 'arm' };

const goOS = (os: string): string => (os.toLowerCase() === 'macos' ? 'darwin' : os.toLowerCase());

/** Go's %q of a string (ASCII cases; what containerd's errors quote). */
const goQuote = (s: string): string => JSON.stringify(s);

/**
 * Refuses a platform specifier as containerd's platforms.Parse does (the check Docker runs on
 * every `platform` parameter before it does anything else), with its messages.
 */
export function checkPlatformSpec(spec: string): void {
  const invalid = (msg: string) => invalidParameter(`${msg}: invalid argument`);
  if (spec.includes('*')) throw invalid(`${goQuote(spec)}: wildcards not yet supported`);
  const parts = spec.split('/');
  const split = parts.length > 4 ? [...parts.slice(0, 3), parts.slice(3).join('/')] : parts;
  const [first, ...rest] = split as [string, ...string[]];
  const osVer = OS_AND_VERSION.exec(first);
  if (!osVer) throw invalid(`${goQuote(first)} is an invalid OS component of ${goQuote(spec)}: OSAndVersion specifier component must match ${goQuote(OS_AND_VERSION.source)}`);
  for (const part of rest) {
    if (!SPECIFIER_COMPONENT.test(part)) throw invalid(`${goQuote(part)} is an invalid component of ${goQuote(spec)}: platform specifier component must match ${goQuote(SPECIFIER_COMPONENT.source)}`);
  }
  if (split.length > 3) throw invalid(`${goQuote(spec)}: cannot parse platform specifier`);
  if (split.length === 1) {
    const os = osVer[1]!.toLowerCase();
    const arch = first.toLowerCase();
    if (!KNOWN_OS.has(goOS(os)) && !KNOWN_ARCH.has(ARCH_ALIAS[arch] ?? arch)) {
      throw invalid(`${goQuote(spec)}: unknown operating system or architecture`);
    }
  }
}

/** `os[/arch[/variant]]` as --platform spells it; missing parts default to the host's. */
export function parsePlatform(spec: string | undefined, host: Platform): Platform {
  if (!spec) return host;
  checkPlatformSpec(spec);
  const parts = spec.toLowerCase().replace(/^([^/(]*)\([^)]*\)/, '$1').split('/');
  // A lone component that is no OS names an architecture of the host's OS (containerd's rule).
  if (parts.length === 1 && !KNOWN_OS.has(goOS(parts[0]!))) parts.unshift(host.os);
  const [rawOs, arch, variant] = parts as [string, string | undefined, string | undefined];
  const os = goOS(rawOs);
  const p: Platform = { os, architecture: arch ?? host.architecture };
  const v = variant ?? (arch === undefined ? host.variant : defaultVariant(p.architecture));
  if (v) p.variant = v;
  return normalizePlatform(p);
}

function defaultVariant(arch: string): string | undefined {
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') return 'v7';
  return undefined;
}

/** containerd's platform normalisation for the common spellings. */
export function normalizePlatform(p: Platform): Platform {
  const out: Platform = { ...p, os: p.os.toLowerCase() };
  const arch = p.architecture.toLowerCase();
  const alias: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386' };
  out.architecture = alias[arch] ?? arch;
  if (out.architecture === 'arm64' && !out.variant) out.variant = 'v8';
  if (out.architecture === 'arm' && !out.variant) out.variant = 'v7';
  if (out.architecture === 'amd64' && out.variant === 'v1') delete out.variant;
  return out;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Same OS and architecture, and the same variant when both name one (arm64's v8 is implied). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const p = normalizePlatform(have);
  return p.os === w.os && p.architecture === w.architecture && (!w.variant || !p.variant || p.variant === w.variant);
}

/** containerd's OnlyStrict: the same platform once both are normalised, variant included (load and save). */
export function platformMatchesStrict(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const p = normalizePlatform(have);
  return p.os === w.os && p.architecture === w.architecture && (p.variant ?? '') === (w.variant ?? '');
}

/**
 * The index entry for `want`: same OS and architecture, and the same variant when both name
 * one (arm64's v8 is implied). Docker's error when none matches.
 */
export function selectPlatform(index: ManifestIndex, want: Platform): Descriptor {
  const w = normalizePlatform(want);
  const candidates = index.manifests.filter((m) => {
    if (!m.platform) return false;
    if (m.mediaType !== MEDIA_DOCKER_MANIFEST && m.mediaType !== MEDIA_OCI_MANIFEST) return false;
    return platformMatches(w, m.platform);
  });
  // An exact variant match is preferred over an entry without one.
  const exact = candidates.find((m) => normalizePlatform(m.platform!).variant === w.variant);
  const pick = exact ?? candidates[0];
  if (!pick) throw notFoundPlatform(w);
  return pick;
}

function notFoundPlatform(p: Platform): Error {
  return notFound(`no matching manifest for ${formatPlatform(p)} in the manifest list entries`);
}
