/** The host's platform as Go names it (GOARCH), an image's, and a request's, for platform matching. */
import type { ImageConfigFile, OciPlatform } from '../../api/types.js';
import type { Platform } from '../../distribution/manifest.js';

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
export const hostArch = (): string => GO_ARCH[process.arch] ?? process.arch;

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: hostArch(), ...(hostArch() === 'arm64' ? { variant: 'v8' } : {}) };
}

/** An image's platform from its config; one that names none is the host's, as wharfd made it. */
export function imagePlatform(config: ImageConfigFile): Platform {
  return { os: config.os || 'linux', architecture: config.architecture || hostArch(), ...(config.variant ? { variant: config.variant } : {}) };
}

/** A request's JSON OCI platform as the matchers take it. */
export function requestedPlatform(p: OciPlatform): Platform {
  return { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
}
