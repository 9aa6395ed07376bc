import { initialState, type ContainerRecord } from '../../../src/container/container.js';

let counter = 0;

/** A 64-hex ID whose first characters are `prefix` (the rest unique per call). */
export function fakeId(prefix = ''): string {
  counter++;
  return (prefix + counter.toString(16).padStart(8, '0')).padEnd(64, 'e').slice(0, 64);
}

export function makeRecord(over: Partial<ContainerRecord> & { ID?: string } = {}): ContainerRecord {
  const id = over.ID ?? fakeId();
  return {
    ID: id,
    Name: `/c${id.slice(0, 6)}`,
    Created: '2026-01-01T00:00:00.000000000Z',
    Path: 'sh',
    Args: ['-c', 'echo hi'],
    Config: { Image: 'busybox', Cmd: ['sh', '-c', 'echo hi'], Labels: {} },
    Image: 'sha256:' + 'a'.repeat(64),
    State: initialState(),
    NetworkSettings: { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: {} },
    MountPoints: {},
    LogPath: `/var/lib/wharf/containers/${id}/${id}-json.log`,
    ResolvConfPath: `/var/lib/wharf/containers/${id}/resolv.conf`,
    HostnamePath: `/var/lib/wharf/containers/${id}/hostname`,
    HostsPath: `/var/lib/wharf/containers/${id}/hosts`,
    RestartCount: 0,
    HasBeenManuallyStopped: false,
    HasBeenStartedBefore: false,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: { NetworkMode: 'bridge' },
    ...over,
  };
}
