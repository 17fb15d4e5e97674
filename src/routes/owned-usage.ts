// Per-user usage of an owned resource as this instance last knew it, so that a write far below its
// limits (for notes NOTES_MAX_PER_USER and NOTES_MAX_BYTES_PER_USER) skips the exact check — an
// aggregate over all the owner's rows, in the write's own statement — and only writes near the
// limits pay for it. Writes of other instances are seen when an entry is read again from the
// database (after TTL_MS), so they can carry a user past the safe margin unnoticed for at most that
// long; the limits bound abuse, they are not an account balance.
import type { OwnedLimits, OwnedUsage } from '../db/owned.ts'

/** below this share of a limit a write is not checked in the database */
const SAFE_SHARE = 0.9
const TTL_MS = 30_000
/** users remembered per instance (a few hundred KB) */
const MAX_USERS = 10_000

interface Usage extends OwnedUsage {
  readAt: number
}

export class OwnedUsageCache {
  private readonly users = new Map<string, Usage>()

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The limits a write of `adding` must be checked against in the database, or undefined when the
   * owner is safely below them. An owner whose usage is not known (or too old) is checked: the
   * create's own statement measures the usage (OwnedLimits.onUsage), which is remembered from there,
   * so knowing it never costs a round trip of its own.
   */
  limitsFor(ownerId: string, adding: OwnedUsage, limits: OwnedLimits): OwnedLimits | undefined {
    const usage = this.users.get(ownerId)
    if (!usage || this.now() - usage.readAt > TTL_MS) {
      const readAt = this.now()
      return { ...limits, onUsage: (u) => this.remember(ownerId, { ...u, readAt }) }
    }
    const safe = usage.count + adding.count <= limits.maxCount * SAFE_SHARE && usage.bytes + adding.bytes <= limits.maxBytes * SAFE_SHARE
    return safe ? undefined : limits
  }

  /** a row of `bytes` was created */
  created(ownerId: string, bytes: number): void {
    const usage = this.users.get(ownerId)
    if (usage) {
      usage.count += 1
      usage.bytes += bytes
    }
  }

  /** a row changed or went, by an amount not known here: read the usage again next time */
  forget(ownerId: string): void {
    this.users.delete(ownerId)
  }

  get size(): number {
    return this.users.size
  }

  private remember(ownerId: string, usage: Usage): void {
    this.users.delete(ownerId)
    // Full: forget the least recently read (Map keeps insertion order).
    if (this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value!)
    this.users.set(ownerId, usage)
  }
}
