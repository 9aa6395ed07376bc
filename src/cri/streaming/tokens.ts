/**
 * Single-use tokens for streaming requests, as kubelet's streaming request cache keeps them:
 * the Exec/Attach/PortForward RPC stores the request under a random token, the URL carries the
 * token, and the first connection that presents it takes the request. Tokens expire after a
 * minute, and at most `maxInFlight` wait at once.
 */
import { randomBytes } from 'node:crypto';
import { unavailable } from '../../lib/errors.js';

export const TOKEN_TTL_MS = 60_000;
export const MAX_IN_FLIGHT = 1000;

interface Entry<T> {
  value: T;
  expires: number;
}

export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly maxInFlight = MAX_IN_FLIGHT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores `value` and returns its token (128 random bits, URL-safe). */
  insert(value: T): string {
    this.evictExpired();
    if (this.entries.size >= this.maxInFlight) throw unavailable('maximum number of in-flight streaming requests exceeded');
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** Takes the request stored under `token`; undefined when unknown, used or expired. */
  consume(token: string): T | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expires > this.now() ? e.value : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private evictExpired(): void {
    const now = this.now();
    // Insertion order is expiry order (one TTL for all).
    for (const [token, e] of this.entries) {
      if (e.expires > now) break;
      this.entries.delete(token);
    }
  }
}
