/** CRI timestamps: int64 nanoseconds since the epoch, sent as decimal strings (see cri/proto.ts). */
import { isZeroTime } from '../../container/state.js';
import { rfc3339ToNs } from '../../lib/wall-clock.js';

/** Nanoseconds of an RFC3339(Nano) time, keeping all nine fraction digits; '0' for Docker's zero time. */
export function rfc3339ToNanos(time: string): string {
  if (isZeroTime(time)) return '0';
  return (rfc3339ToNs(time) ?? 0n).toString();
}

export const nowNanos = (): string => (BigInt(Date.now()) * 1_000_000n).toString();
