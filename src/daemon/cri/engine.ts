/**
 * What the CRI backends use of the engine: the same services the Docker API routes call, plus
 * the record-level reads they need to answer List/Status calls without one inspect per object.
 */
import type { ContainerBackend, ContainerControlBackend, ImageBackend, NetworkBackend } from '../../api/backend.js';
import type { ContainerRecord } from '../../container/container.js';
import type { ResolvedImage } from '../images.js';
import type { ExecBackend } from '../../api/exec-types.js';
import type { StatsOptions, StatsStream } from '../../api/stats-types.js';

export interface CriEngine {
  containers: Pick<ContainerBackend, 'create' | 'start' | 'stop' | 'remove' | 'inspect' | 'wait'> & {
    /** Every container record (the engine's own view; callers must not change them). */
    all(): ContainerRecord[];
    /** Changes a record under the container's lock and saves it. */
    updateRecord(id: string, change: (rec: ContainerRecord) => void): Promise<void>;
    stats(ref: string, opts: StatsOptions): Promise<StatsStream>;
  };
  control: Pick<ContainerControlBackend, 'update'>;
  images: Required<Pick<ImageBackend, 'pull' | 'list' | 'inspect' | 'remove' | 'importImage'>> & {
    resolve(ref: string): Promise<ResolvedImage>;
  };
  networks: Pick<NetworkBackend, 'create' | 'inspect' | 'list'>;
  exec: ExecBackend & {
    probe(rec: ContainerRecord, cmd: string[], output: (chunk: Buffer, stream: 'stdout' | 'stderr') => void, timeoutMs: number): Promise<{ exitCode: number; timedOut: boolean }>;
  };
  dataRoot: string;
  log: (msg: string) => void;
}
