/**
 * GET /distribution/{name}/json: what the registry holds for a reference, without pulling it —
 * the manifest's descriptor and the platforms it serves, as moby's distribution router answers:
 * the tag resolved by a HEAD (a GET when the registry does not give a digest that way), the
 * manifest fetched by digest, and the platforms from a manifest list's entries or from an image
 * manifest's config (a Docker schema2 one; moby reads none from an OCI image manifest).
 */
import type { DistributionInspect, OciPlatform } from '../api/types.js';
import { EngineError, forbidden, invalidParameter, notFound, systemError, unauthorized } from '../lib/errors.js';
import { withDefaultTag, type Reference } from '../image/reference.js';
import { sha256Digest } from '../layer/chain-id.js';
import type { Credentials } from './auth-config.js';
import { fetchBlobBuffer } from './blob-download.js';
import type { RegistryClient, RegistrySession } from './client.js';
import { RegistryError } from './errors.js';
import { readBody, type HttpResponse } from './http.js';
import { MANIFEST_ACCEPT, MEDIA_DOCKER_MANIFEST } from './manifest.js';
import { fetchManifest } from './pull.js';

const MAX_MANIFEST = 4 << 20;
const MAX_CONFIG = 8 << 20;

/** The status moby gives a registry's error code (errcode's HTTPStatusCode), as an engine error. */
function engineErrorOf(err: RegistryError): EngineError {
  switch (err.code) {
    case 'NAME_UNKNOWN':
    case 'MANIFEST_UNKNOWN':
    case 'BLOB_UNKNOWN':
    case 'BLOB_UPLOAD_UNKNOWN':
    case 'BLOB_UPLOAD_INVALID':
    case 'NOT_FOUND':
      return notFound(err.message);
    case 'DIGEST_INVALID':
    case 'SIZE_INVALID':
    case 'NAME_INVALID':
    case 'TAG_INVALID':
    case 'MANIFEST_INVALID':
    case 'MANIFEST_UNVERIFIED':
    case 'MANIFEST_BLOB_UNKNOWN':
    case 'PAGINATION_NUMBER_INVALID':
      return invalidParameter(err.message);
    case 'UNAUTHORIZED':
      return unauthorized(err.message);
    case 'DENIED':
      return forbidden(err.message);
    default:
      return systemError(err.message, err);
  }
}

interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

function descriptorOf(res: HttpResponse, digest: string): ManifestDescriptor {
  const size = Number(res.headers['content-length'] ?? 0);
  return { mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(), digest, size: Number.isSafeInteger(size) && size > 0 ? size : 0 };
}

/** distribution's tags.Get: a HEAD that names the digest, else a GET (registries without HEAD, and the error's body). */
async function resolveTag(s: RegistrySession, repo: string, tag: string): Promise<ManifestDescriptor> {
  const path = `/v2/${repo}/manifests/${tag}`;
  const headers = { Accept: MANIFEST_ACCEPT.join(', ') };
  const head = await s.request('HEAD', path, { headers });
  head.body.resume();
  const headDigest = head.headers['docker-content-digest'];
  if (head.status >= 200 && head.status < 400 && typeof headDigest === 'string' && headDigest) return descriptorOf(head, headDigest);
  const res = await s.request('GET', path, { headers });
  if (res.status < 200 || res.status >= 400) await s.fail(res, 'GET');
  const raw = await readBody(res, MAX_MANIFEST);
  const digest = res.headers['docker-content-digest'];
  return descriptorOf(res, typeof digest === 'string' && digest ? digest : sha256Digest(raw));
}

/** The platform fields of an image config, or undefined when it names neither OS nor architecture. */
function configPlatform(raw: Buffer): OciPlatform | undefined {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!c || typeof c !== 'object') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const p = platformOf(str(c.architecture), str(c.os), str(c['os.version']), c['os.features'], str(c.variant));
  return p.os || p.architecture ? p : undefined;
}

function platformOf(architecture: string, os: string, osVersion: string, osFeatures: unknown, variant: string): OciPlatform {
  const p: OciPlatform = { architecture, os };
  if (osVersion) p['os.version'] = osVersion;
  if (Array.isArray(osFeatures) && osFeatures.length && osFeatures.every((f) => typeof f === 'string')) p['os.features'] = osFeatures as string[];
  if (variant) p.variant = variant;
  return p;
}

async function inspectAt(s: RegistrySession, ref: Reference): Promise<DistributionInspect> {
  const named = withDefaultTag(ref);
  const descriptor: ManifestDescriptor = named.digest ? { mediaType: '', digest: named.digest, size: 0 } : await resolveTag(s, ref.path, named.tag!);
  const { raw, manifest } = await fetchManifest(s, ref.path, descriptor.digest);
  const out: DistributionInspect = {
    Descriptor: { mediaType: manifest.mediaType, digest: descriptor.digest, size: descriptor.size || raw.length },
    Platforms: null,
  };
  if (manifest.kind === 'index') {
    const platforms = manifest.manifests.map((m) => {
      const p = m.platform as (typeof m.platform & { 'os.features'?: unknown }) | undefined;
      return platformOf(p?.architecture ?? '', p?.os ?? '', p?.['os.version'] ?? '', p?.['os.features'], p?.variant ?? '');
    });
    if (platforms.length) out.Platforms = platforms;
  } else if (manifest.mediaType === MEDIA_DOCKER_MANIFEST && manifest.config.size <= MAX_CONFIG) {
    // As moby: a config that cannot be had or read leaves the platforms out, not the answer.
    const config = await fetchBlobBuffer(s, ref.path, manifest.config).catch(() => undefined);
    const p = config && configPlatform(config);
    if (p) out.Platforms = [p];
  }
  return out;
}

/**
 * The registry's answer for `ref` (tagged `latest` when it names neither tag nor digest): each
 * endpoint group in turn (mirrors first), the last one's error when none has it.
 */
export async function inspectDistribution(client: RegistryClient, ref: Reference, creds: Credentials | undefined): Promise<DistributionInspect> {
  const groups = await client.endpointGroups(ref.domain);
  let lastErr: unknown = systemError('no registry endpoint');
  for (const group of groups) {
    try {
      const session = await client.open(group, creds, [{ repo: ref.path, actions: ['pull'] }]);
      return await inspectAt(session, ref);
    } catch (err) {
      lastErr = err instanceof RegistryError ? engineErrorOf(err) : err;
    }
  }
  throw lastErr;
}
