// Login failures per key in a sliding window, in this process's memory.
//
// Two tables: the failures being counted, and the keys locked out. Counting is bounded by forgetting
// the least recently failing keys (maxKeys); a lock is never forgotten before it expires, whatever
// floods the counting table — else a flood of failures for random keys would unlock a victim. The
// lock table is bounded too (maxKeys): when it is full of live locks, a key it cannot hold is refused
// until one expires (fail closed). Filling it takes maxFailures × maxKeys failed logins within one
// window, each costing the attacker a bcrypt check on the server.

export interface RateLimitOptions {
  maxFailures: number
  windowMs: number
  /** bound on remembered keys per table, so a flood of random emails cannot grow memory without limit */
  maxKeys?: number
  now?: () => number
}

export class LoginRateLimiter {
  /** key → its failure times in the window (ms since the epoch), for keys not locked */
  private readonly failures = new Map<string, number[]>()
  /** key → its failure times, for keys that used up their allowance */
  private readonly locked = new Map<string, number[]>()
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
    const until = this.lockedUntil(key)
    return until > 0 ? Math.max(1, Math.ceil((until - this.now()) / 1000)) : 0
  }

  /** Records a failure; returns true when this failure used up the key's allowance. */
  fail(key: string): boolean {
    const times = [...(this.locked.get(key) ?? []), ...this.live(this.failures.get(key))]
    times.push(this.now())
    this.failures.delete(key)
    if (times.length >= this.options.maxFailures) {
      this.lock(key, times.slice(-this.options.maxFailures))
      return true
    }
    this.failures.set(key, times)
    this.evict()
    return false
  }

  /** Takes back the latest failure of `key`: an attempt counted in advance that succeeded after all. */
  undo(key: string): void {
    const locked = this.locked.get(key)
    const times = locked ?? this.failures.get(key)
    if (!times) return
    times.pop()
    this.locked.delete(key)
    this.failures.delete(key)
    if (times.length > 0) this.failures.set(key, times)
  }

  reset(key: string): void {
    this.failures.delete(key)
    this.locked.delete(key)
  }

  /** keys remembered, counting and locked */
  get size(): number {
    return this.failures.size + this.locked.size
  }

  /**
   * When the key's lock ends (ms since the epoch), or 0. A lock that has run out hands its failures
   * still in the window back to counting. A full lock table refuses keys it does not know until its
   * first lock ends.
   */
  private lockedUntil(key: string): number {
    const locked = this.locked.get(key)
    if (locked) {
      const until = this.lockEnd(locked)
      if (until > this.now()) return until
      this.locked.delete(key)
      const times = this.live(locked)
      if (times.length > 0) this.failures.set(key, times)
    }
    if (this.locked.size >= this.maxKeys && !this.failures.has(key)) {
      this.pruneLocks()
      if (this.locked.size >= this.maxKeys) return Math.min(...[...this.locked.values()].map((t) => this.lockEnd(t)))
    }
    const times = this.live(this.failures.get(key))
    return times.length >= this.options.maxFailures ? this.lockEnd(times) : 0
  }

  private lockEnd(times: number[]): number {
    return times[times.length - this.options.maxFailures]! + this.options.windowMs
  }

  private lock(key: string, times: number[]): void {
    if (this.locked.size >= this.maxKeys) this.pruneLocks()
    // Full of live locks: this key is refused anyway (lockedUntil) until one of them ends.
    if (this.locked.size < this.maxKeys || this.locked.has(key)) this.locked.set(key, times)
  }

  private pruneLocks(): void {
    const now = this.now()
    for (const [key, times] of this.locked) if (this.lockEnd(times) <= now) this.locked.delete(key)
  }

  private live(times: number[] | undefined): number[] {
    const cutoff = this.now() - this.options.windowMs
    return (times ?? []).filter((t) => t > cutoff)
  }

  private evict(): void {
    if (this.failures.size <= this.maxKeys) return
    const cutoff = this.now() - this.options.windowMs
    for (const [key, times] of this.failures) {
      if (times[times.length - 1]! <= cutoff) this.failures.delete(key)
    }
    // Still full of live keys: forget the least recently failing ones (Map keeps insertion order).
    // None of them is locked: locks live in their own table.
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) break
      this.failures.delete(key)
    }
  }
}
