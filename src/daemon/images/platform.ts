/** The host's platform as Go names it (GOARCH), for image configs and platform matching. */
import type { Platform } from '../../distribution/manifest.js';

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
export const hostArch = (): string => GO_ARCH[process.arch] ?? process.arch;

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: hostArch(), ...(hostArch() === 'arm64' ? { variant: 'v8' } : {}) };
}
