/**
 * BuildKit's automatic platform ARGs (its frontend's defaultArgs): in the global scope of every
 * Dockerfile it builds, usable in FROM lines and by any stage that declares them with a bare
 * `ARG`, a build arg of the same name overriding each. Docker's classic builder has none.
 */
import type { Platform } from '../distribution/manifest.js';

/** The variant as containerd normalises it: arm64's implied v8 is none. */
function variantOf(p: Platform): string {
  return p.architecture === 'arm64' && p.variant === 'v8' ? '' : (p.variant ?? '');
}

/** containerd's platforms.Format of a normalised platform. */
function format(p: Platform): string {
  return [p.os, p.architecture, variantOf(p)].filter(Boolean).join('/');
}

/** The ARGs and their values: the platform built on, the one built for, and the target stage (`default` when unnamed). */
export function platformArgs(build: Platform, target: Platform, targetStage: string): Array<[string, string]> {
  return [
    ['BUILDPLATFORM', format(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', variantOf(build)],
    ['TARGETPLATFORM', format(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', variantOf(target)],
    ['TARGETSTAGE', targetStage || 'default'],
  ];
}
