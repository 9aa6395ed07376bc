/**
 * The Go types Docker decodes the other request bodies into (exec, networks, volumes, auth),
 * for api/json-body.ts. Container bodies are in create-body.ts.
 */
import { ENDPOINT_SETTINGS } from './create-body.js';
import { stringMap, strings, type StructShape } from '../lib/go-json.js';

const CONSOLE_SIZE = { array: 'uint64', goType: '*[2]uint', length: 2 } as const;

/** POST /containers/{id}/exec: container.ExecOptions. */
export const EXEC_CREATE: StructShape = {
  goType: 'container.ExecOptions',
  fields: {
    User: 'string',
    Privileged: 'bool',
    Tty: 'bool',
    ConsoleSize: CONSOLE_SIZE,
    AttachStdin: 'bool',
    AttachStderr: 'bool',
    AttachStdout: 'bool',
    Detach: 'bool',
    DetachKeys: 'string',
    Env: strings,
    WorkingDir: 'string',
    Cmd: strings,
  },
};

/** POST /exec/{id}/start: container.ExecStartOptions. */
export const EXEC_START: StructShape = {
  goType: 'container.ExecStartOptions',
  fields: { Detach: 'bool', Tty: 'bool', ConsoleSize: CONSOLE_SIZE },
};

/** POST /networks/create: network.CreateRequest. */
export const NETWORK_CREATE: StructShape = {
  goType: 'network.CreateRequest',
  fields: {
    Name: 'string',
    CheckDuplicate: 'bool',
    Driver: 'string',
    Scope: 'string',
    EnableIPv4: 'bool',
    EnableIPv6: 'bool',
    IPAM: {
      goType: 'network.IPAM',
      fields: {
        Driver: 'string',
        Options: stringMap,
        Config: {
          goType: '[]network.IPAMConfig',
          array: { goType: 'network.IPAMConfig', fields: { Subnet: 'string', IPRange: 'string', Gateway: 'string', AuxiliaryAddresses: stringMap } },
        },
      },
    },
    Internal: 'bool',
    Attachable: 'bool',
    Ingress: 'bool',
    ConfigOnly: 'bool',
    ConfigFrom: { goType: 'network.ConfigReference', fields: { Network: 'string' } },
    Options: stringMap,
    Labels: stringMap,
  },
};

/** POST /networks/{id}/connect: network.ConnectOptions. */
export const NETWORK_CONNECT: StructShape = {
  goType: 'network.ConnectOptions',
  fields: { Container: 'string', EndpointConfig: ENDPOINT_SETTINGS },
};

/** POST /networks/{id}/disconnect: network.DisconnectOptions. */
export const NETWORK_DISCONNECT: StructShape = {
  goType: 'network.DisconnectOptions',
  fields: { Container: 'string', Force: 'bool' },
};

/** POST /volumes/create: volume.CreateOptions. */
export const VOLUME_CREATE: StructShape = {
  goType: 'volume.CreateOptions',
  fields: { Name: 'string', Driver: 'string', DriverOpts: stringMap, Labels: stringMap, ClusterVolumeSpec: 'any' },
};

/** POST /auth: registry.AuthConfig (Docker's JSON names are lower case). */
export const AUTH_CONFIG: StructShape = {
  goType: 'registry.AuthConfig',
  fields: {
    username: 'string',
    password: 'string',
    auth: 'string',
    email: 'string',
    serveraddress: 'string',
    identitytoken: 'string',
    registrytoken: 'string',
  },
};
