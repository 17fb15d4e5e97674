// Login failures per key (client IP + email) in a sliding window, in this process's memory.

export interface RateLimitOptions {
  maxFailures: number
  windowMs: number
  /** bound on remembered keys, so a flood of random emails cannot grow memory without limit */
  maxKeys?: number
  now?: () => number
}

export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>()
  private readonly maxKeys: number
  private readonly now: () => number

  constructor(private readonly options: RateLimitOptions) {
    this.maxKeys = options.maxKeys ?? 10_000
    this.now = options.now ?? Date.now
  }

  static key(ip: string, normalizedEmail: string): string {
    return `${ip}\u0000${normalizedEmail}`
  }

  /** Seconds until another attempt is allowed, or 0 when `key` may try now. */
  retryAfterS(key: string): number {
    const times = this.live(key)
    if (times.length < this.options.maxFailures) return 0
    const oldest = times[times.length - this.options.maxFailures]!
    return Math.max(1, Math.ceil((oldest + this.options.windowMs - this.now()) / 1000))
  }

  /** Records a failure; returns true when this failure used up the key's allowance. */
  fail(key: string): boolean {
    const times = this.live(key)
    times.push(this.now())
    this.failures.delete(key)
    this.failures.set(key, times)
    this.evict()
    return times.length >= this.options.maxFailures
  }

  reset(key: string): void {
    this.failures.delete(key)
  }

  get size(): number {
    return this.failures.size
  }

  private live(key: string): number[] {
    const cutoff = this.now() - this.options.windowMs
    const times = (this.failures.get(key) ?? []).filter((t) => t > cutoff)
    if (times.length === 0) this.failures.delete(key)
    return times
  }

  private evict(): void {
    if (this.failures.size <= this.maxKeys) return
    const cutoff = this.now() - this.options.windowMs
    for (const [key, times] of this.failures) {
      if (times[times.length - 1]! <= cutoff) this.failures.delete(key)
    }
    // Still full of live keys: forget the least recently failing ones (Map keeps insertion order).
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) break
      this.failures.delete(key)
    }
  }
}
