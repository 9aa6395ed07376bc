/**
 * What older API versions add to image responses, as moby's image and system routers do:
 * VirtualSize (= Size) below 1.44, a zero Created below 1.44 when the image has none, and the
 * image Config's fields that newer versions omit when empty (all of the legacy container-config
 * fields below 1.50; those without omitempty in 1.50–1.51). Fields only fill what is missing or null.
 */
import type { ImageInspect, ImageSummary } from './types.js';
import { versionAtLeast } from './version.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Config fields API 1.50–1.51 always returned. */
const CONFIG_1_50: Record<string, unknown> = {
  Cmd: null,
  Entrypoint: null,
  Env: null,
  Labels: null,
  OnBuild: null,
  User: '',
  Volumes: null,
  WorkingDir: '',
};

/** Config fields API 1.49 and older always returned. */
const CONFIG_1_49: Record<string, unknown> = {
  ...CONFIG_1_50,
  AttachStderr: false,
  AttachStdin: false,
  AttachStdout: false,
  Domainname: '',
  Hostname: '',
  Image: '',
  OpenStdin: false,
  StdinOnce: false,
  Tty: false,
};

function fill(target: Record<string, unknown>, defaults: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(defaults)) if (target[k] === undefined || target[k] === null) target[k] = v;
}

export function imageInspectForVersion(inspect: ImageInspect, version: string): ImageInspect {
  // API 1.45 removed Container and ContainerConfig.
  if (versionAtLeast(version, '1.45')) {
    delete inspect.Container;
    delete inspect.ContainerConfig;
  }
  if (!versionAtLeast(version, '1.44')) {
    inspect.VirtualSize = inspect.Size;
    if (!inspect.Created) inspect.Created = ZERO_TIME;
  }
  // A copy: the daemon's Config may be the image store's own object.
  const config = { ...inspect.Config } as Record<string, unknown>;
  fill(config, versionAtLeast(version, '1.50') ? CONFIG_1_50 : CONFIG_1_49);
  inspect.Config = config as unknown as ImageInspect['Config'];
  return inspect;
}

/** GET /images/json and /system/df's images: VirtualSize below API 1.44. */
export function imageSummariesForVersion<T extends Pick<ImageSummary, 'Size' | 'VirtualSize'>>(images: T[], version: string): T[] {
  if (!versionAtLeast(version, '1.44')) for (const i of images) i.VirtualSize = i.Size;
  return images;
}

/** GET /images/json: as imageSummariesForVersion, and each image's count of containers only from API 1.51 (-1, "not set", before; df always counts). */
export function imageListForVersion(images: ImageSummary[], version: string): ImageSummary[] {
  if (!versionAtLeast(version, '1.51')) for (const i of images) i.Containers = -1;
  return imageSummariesForVersion(images, version);
}
