/**
 * The image config as Docker decodes it (moby's image.Image: V1Image, RootFS, History), and the
 * container.Config it carries, which the create and commit bodies share. Every config that
 * becomes an image (pulled, loaded, imported, committed, built) is decoded by
 * parseImageConfig first: a config Docker would refuse (a string where Env's list is, a number
 * label, a history entry that is not an object) is refused with Go's error, so no wrong type
 * reaches the code that lists, inspects or runs images; null elements become Go's zero values.
 */
import type { ImageConfigFile } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import { decodeGoJSON, emptySet, MAX_JSON_DEPTH, nestsDeeperThan, stringMap, strings, type Shape, type StructShape } from '../lib/go-json.js';

const HEALTH: Shape = {
  goType: 'container.HealthConfig',
  fields: { Test: strings, Interval: 'int64', Timeout: 'int64', StartPeriod: 'int64', StartInterval: 'int64', Retries: 'int' },
};

/** container.Config's fields. */
export const CONFIG_FIELDS: Record<string, Shape> = {
  Hostname: 'string',
  Domainname: 'string',
  User: 'string',
  AttachStdin: 'bool',
  AttachStdout: 'bool',
  AttachStderr: 'bool',
  ExposedPorts: emptySet,
  Tty: 'bool',
  OpenStdin: 'bool',
  StdinOnce: 'bool',
  Env: strings,
  Cmd: 'strslice',
  Healthcheck: HEALTH,
  ArgsEscaped: 'bool',
  Image: 'string',
  Volumes: emptySet,
  WorkingDir: 'string',
  Entrypoint: 'strslice',
  NetworkDisabled: 'bool',
  MacAddress: 'string',
  OnBuild: strings,
  Labels: stringMap,
  StopSignal: 'string',
  StopTimeout: 'int',
  Shell: 'strslice',
};

const CONTAINER_CONFIG: StructShape = { goType: 'container.Config', fields: CONFIG_FIELDS };

const IMAGE_CONFIG: StructShape = {
  goType: 'image.Image',
  fields: {
    id: 'string',
    parent: 'string',
    comment: 'string',
    created: 'time',
    container: 'string',
    container_config: CONTAINER_CONFIG,
    docker_version: 'string',
    author: 'string',
    config: CONTAINER_CONFIG,
    architecture: 'string',
    variant: 'string',
    os: 'string',
    size: 'int64',
    rootfs: { goType: 'image.RootFS', fields: { type: 'string', diff_ids: strings } },
    history: {
      array: { goType: 'image.History', fields: { created: 'time', author: 'string', created_by: 'string', comment: 'string', empty_layer: 'bool' } },
      goType: '[]image.History',
    },
    'os.version': 'string',
    'os.features': strings,
  },
};

/** Decodes config bytes as moby's image.NewFromJSON does; its errors are 400s. */
export function parseImageConfig(raw: Buffer): ImageConfigFile {
  const text = raw.toString('utf8');
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw invalidParameter('invalid image JSON: exceeded max depth');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidParameter('invalid image JSON');
  }
  const config = decodeGoJSON<ImageConfigFile | null>(parsed, IMAGE_CONFIG);
  // moby asks only for the key: a null diff_ids is Go's nil slice (an image of no layers), and the type is not read.
  if (!config || !config.rootfs) throw invalidParameter('invalid image JSON, no RootFS key');
  config.rootfs.diff_ids ??= [];
  return config;
}
