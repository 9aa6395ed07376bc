/** Registries: pull, push, search and login over distribution/ (POST /images/create?fromImage=, /images/{name}/push, /images/search, /auth). */
import type { ImagePullOptions, RegistryAuth } from '../../api/backend.js';
import type { DistributionInspect, Filters, ImageSearchResult, PluginPrivilege, ProgressMessage } from '../../api/types.js';
import { credentialsOf } from '../../distribution/auth-config.js';
import { inspectDistribution } from '../../distribution/inspect.js';
import { login } from '../../distribution/login.js';
import { pluginPrivileges } from '../../distribution/plugin-privileges.js';
import { listTags, pullImage, type PullContext } from '../../distribution/pull.js';
import { pushImage } from '../../distribution/push.js';
import { searchRegistry } from '../../distribution/search.js';
import { familiarName, familiarString, isFullImageId, isValidTag, parseNormalizedNamed, type Reference } from '../../image/reference.js';
import { sha256Digest } from '../../layer/chain-id.js';
import { forbidden, invalidParameter, notFound, systemError } from '../../lib/errors.js';
import type { ImageCore } from './core.js';
import { hostPlatform } from './platform.js';

/** `FROM scratch`'s name, which no registry may serve (moby's ValidateRepoName). */
const NO_BASE_IMAGE = 'scratch';
const RESERVED_NAME = `'${NO_BASE_IMAGE}' is a reserved name`;

/** GET /distribution/{name}/json, as moby's distribution router checks the name first. */
export async function distributionInspect(c: ImageCore, name: string, auth: RegistryAuth | undefined): Promise<DistributionInspect> {
  // ParseAnyReference: an image ID is a reference, but to no repository.
  if (isFullImageId(name)) throw systemError('no manifest found for full image ID');
  const ref = parseNormalizedNamed(name);
  if (familiarName(ref) === NO_BASE_IMAGE) throw invalidParameter(RESERVED_NAME);
  return inspectDistribution(c.registry, ref, credentialsOf(auth));
}

function pullContext(c: ImageCore): PullContext {
  const r = c.opts.registry ?? {};
  return {
    client: c.registry,
    metadata: c.distribution,
    maxConcurrentDownloads: Math.max(1, r.maxConcurrentDownloads ?? 3),
    hostPlatform: hostPlatform(),
    sink: {
      layers: c.layers,
      referenceTarget: (ref) => c.refs.get(ref),
      hasImage: (id) => c.images.has(id),
      registerImage: (raw, refs) => c.registerImage(raw, refs.filter((r) => r.digest === undefined || !c.refs.get(r) || c.refs.get(r) === sha256Digest(raw)), undefined, { tagTime: false }),
      releaseLayers: (chains) => c.releaseLayers(chains),
      tmpRoot: c.tmpRoot,
    },
  };
}

/**
 * POST /images/create?fromImage= : Docker's pull. `tag` may be a tag or a digest; without
 * one (and none in `ref`) every tag of the repository is pulled.
 */
export async function* pullImages(c: ImageCore, ref: string, tag: string | undefined, opts: ImagePullOptions, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
  let named = parseNormalizedNamed(ref);
  if (tag) {
    if (/^[a-z0-9]+:[a-f0-9]{32,}$/i.test(tag)) {
      if (!/^sha256:[a-f0-9]{64}$/.test(tag)) throw invalidParameter('invalid digest format');
      named = { ...named, digest: tag };
    } else {
      if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
      named = { ...named, tag };
    }
  }
  if (familiarName(named) === NO_BASE_IMAGE) throw forbidden(RESERVED_NAME);
  const creds = credentialsOf(auth);
  const ctx = pullContext(c);
  if (named.tag !== undefined || named.digest !== undefined) {
    yield* pullImage(ctx, { ref: named, ...(opts.platform ? { platform: opts.platform } : {}), ...(creds ? { creds } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    c.opts.events?.log('image', 'pull', { ID: familiarString(named), Attributes: { name: familiarString(named) } });
    return;
  }
  // All tags: one pull per tag, then Docker's summary line for the repository.
  const tags = await listTags(ctx, named, creds);
  let newer = false;
  for (const t of tags) {
    opts.signal?.throwIfAborted();
    for await (const m of pullImage(ctx, { ref: { ...named, tag: t }, ...(opts.platform ? { platform: opts.platform } : {}), ...(creds ? { creds } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })) {
      if (m.status?.startsWith('Status: ')) {
        newer ||= m.status.startsWith('Status: Downloaded newer image');
        continue;
      }
      yield m;
    }
    c.opts.events?.log('image', 'pull', { ID: familiarString({ ...named, tag: t }), Attributes: { name: familiarString({ ...named, tag: t }) } });
  }
  yield { status: newer ? `Status: Downloaded newer image for ${familiarName(named)}` : `Status: Image is up to date for ${familiarName(named)}` };
}

/** POST /images/{name}/push : pushes a tag, or every tag of the repository when none is given. */
export async function* pushImages(c: ImageCore, name: string, tag: string | undefined, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
  let named = parseNormalizedNamed(name);
  if (named.digest !== undefined) throw invalidParameter('cannot push a digest reference');
  if (tag) {
    if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
    named = { ...named, tag };
  }
  const repo: Reference = { domain: named.domain, path: named.path };
  const resolveTags = async (): Promise<Array<{ tag: string; id: string }>> => {
    if (named.tag !== undefined) {
      const id = c.refs.get(named);
      if (!id) {
        // As Docker: a repository with no local tag at all, else the one tag that is missing.
        const known = c.refs.all().some((a) => a.ref.domain === repo.domain && a.ref.path === repo.path);
        throw notFound(known ? `tag does not exist: ${familiarString(named)}` : `An image does not exist locally with the tag: ${familiarName(repo)}`);
      }
      return [{ tag: named.tag, id }];
    }
    const all = c.refs
      .all()
      .filter((a) => a.ref.tag !== undefined && a.ref.digest === undefined && a.ref.domain === repo.domain && a.ref.path === repo.path)
      .sort((a, b) => (a.ref.tag! < b.ref.tag! ? -1 : 1));
    if (all.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    return all.map((a) => ({ tag: a.ref.tag!, id: a.id }));
  };
  yield* pushImage(
    {
      client: c.registry,
      metadata: c.distribution,
      maxConcurrentUploads: Math.max(1, c.opts.registry?.maxConcurrentUploads ?? 5),
      source: {
        layers: c.layers,
        holdImage: async (id) => {
          const { release } = await c.resolveForUse(id);
          try {
            return { raw: await c.images.raw(id), release };
          } catch (err) {
            release();
            throw err;
          }
        },
        addReference: async (ref, id) => {
          await c.exclusive(() => c.refs.add(ref, id, true));
        },
      },
    },
    repo,
    resolveTags,
    credentialsOf(auth),
  );
  c.opts.events?.log('image', 'push', { ID: familiarString(named), Attributes: { name: familiarString(named) } });
}

export async function searchImages(c: ImageCore, term: string, opts: { limit?: number; filters: Filters; auth?: RegistryAuth; signal?: AbortSignal }): Promise<ImageSearchResult[]> {
  return searchRegistry(c.registry.resolver, term, { ...opts, userAgent: c.registry.userAgent });
}

/**
 * GET /plugins/privileges : `remote` as moby's parseRemoteRef reads it (a digest wins over a tag,
 * no tag means latest), then the plugin's config from its registry.
 */
export async function pluginPrivilegesOf(c: ImageCore, remote: string, auth: RegistryAuth | undefined): Promise<PluginPrivilege[] | null> {
  let named: Reference;
  try {
    named = parseNormalizedNamed(remote);
  } catch (err) {
    // moby hands the reference parser's error on unwrapped: a 500, unlike pull's 400.
    throw systemError((err as Error).message);
  }
  const ref: Reference = named.digest !== undefined ? { domain: named.domain, path: named.path, digest: named.digest } : { ...named, tag: named.tag ?? 'latest' };
  return pluginPrivileges(c.registry, ref, credentialsOf(auth));
}

/** POST /auth */
export async function loginRegistry(c: ImageCore, auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }> {
  return login(c.registry, auth);
}
