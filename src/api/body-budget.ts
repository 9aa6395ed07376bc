/**
 * How much of the JSON request bodies being read the daemon holds at once, across all
 * connections. Each body's first FREE_BYTES are always read (a create body with an inline seccomp profile is under 100 KiB);
 * a body that goes past them first reserves the rest of what it may grow to (its Content-Length,
 * else the body limit) from one shared pool, and waits while the pool is taken. Without it, N
 * clients each sending a maximal body made the daemon hold N × 32 MiB. A body reserves all it
 * needs in one go, so two half-read bodies can never wait on each other; one body always gets
 * in when the pool is empty, whatever its size.
 */
export const FREE_BYTES = 256 * 1024;
const POOL_BYTES = 64 * 1024 * 1024;

let used = 0;
const waiting: Array<() => void> = [];

/** Takes `n` bytes from the pool, waiting until they are there; resolves to the function that gives them back. */
export async function reserveBodyBytes(n: number): Promise<() => void> {
  while (used > 0 && used + n > POOL_BYTES) await new Promise<void>((resolve) => waiting.push(resolve));
  used += n;
  let given = false;
  return () => {
    if (given) return;
    given = true;
    used -= n;
    for (const wake of waiting.splice(0)) wake();
  };
}
