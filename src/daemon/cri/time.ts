/** CRI timestamps: int64 nanoseconds since the epoch, sent as decimal strings (see cri/proto.ts). */
import { isZeroTime } from '../../container/state.js';

/** Nanoseconds of an RFC3339(Nano) time, keeping all nine fraction digits; '0' for Docker's zero time. */
export function rfc3339ToNanos(time: string): string {
  if (isZeroTime(time)) return '0';
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return '0';
  const secondsMs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secondsMs)) return '0';
  const fraction = BigInt((m[2] ?? '').padEnd(9, '0'));
  return (BigInt(secondsMs) * 1_000_000n + fraction).toString();
}

export const nowNanos = (): string => (BigInt(Date.now()) * 1_000_000n).toString();
