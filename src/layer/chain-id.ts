import { createHash } from 'node:crypto';

/** `sha256:<hex>` of the given bytes. */
export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Chain IDs per the OCI image spec: ChainID(L0) = DiffID(L0);
 * ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 * Returns one chain ID per diff ID (the last one is the image's top layer).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}

export function chainIdOf(parentChainId: string | null, diffId: string): string {
  return parentChainId === null ? diffId : sha256Digest(`${parentChainId} ${diffId}`);
}

/** The top chain ID of a layer list, or null for an image without layers. */
export function topChainId(diffIds: readonly string[]): string | null {
  const ids = chainIds(diffIds);
  return ids[ids.length - 1] ?? null;
}

/** `sha256:abc…` -> `abc…` */
export function hexOf(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7) : digest;
}
