// What is known of PostgreSQL: whether it is up, why it last failed, and when it last answered or
// ended a connection of ours. The router, the monitor and the mode machine each learn some of it;
// /health reads it without asking PostgreSQL anything.
import { isStoreError } from '../store.ts'

export type PrimaryStatus = 'up' | 'down' | 'unconfigured'

export class PrimaryHealth {
  status: PrimaryStatus
  /** redacted, one line */
  lastError: string | null
  lastProbeAt: string | null = null
  /** probes that succeeded in a row: recovery waits for enough of them */
  goodProbes = 0
  private answeredAt: number | null = null
  /** when the primary last ended a connection of ours (a nap or a restart does), ms since the epoch */
  private lostAt: number | null = null
  /** answeredAt as checkedAt() reports it: formatted once per value, not on every /health */
  private answeredIso: { at: number; iso: string } | null = null

  /** `idleAfterMs`: a silence this long may have let a scale-to-zero database suspend */
  constructor(
    start: { status: PrimaryStatus; lastError: string | null },
    private readonly idleAfterMs: number,
  ) {
    this.status = start.status
    this.lastError = start.lastError
    if (start.status === 'up') this.answeredAt = Date.now()
  }

  /** when PostgreSQL last answered (a probe, a request, a reconnect), ms since the epoch */
  get seenAt(): number | null {
    return this.answeredAt
  }

  answered(): void {
    this.answeredAt = Date.now()
  }

  /** A connection the primary ended (a nap or a restart ends them all) makes a slow wake-up possible. */
  noteFailure(err: unknown): void {
    if (isStoreError(err) && err.connection === 'lost') this.lostAt = Date.now()
  }

  /** ms since PostgreSQL last answered anything (a call, a probe, a reconnect) */
  silence(): number {
    return this.answeredAt === null ? Infinity : Date.now() - this.answeredAt
  }

  /**
   * May the primary be waking up, so that a connection takes up to DATABASE_TIMEOUT? Only after it
   * ended our connections, or after a silence as long as idleness (a scale-to-zero database suspends
   * only after minutes without work). A primary that answered a moment ago and now says nothing on
   * open connections is not asleep: it is unreachable (a blackhole), and waiting longer changes nothing.
   */
  mayBeWaking(): boolean {
    const seen = this.answeredAt
    if (seen === null) return true
    if (this.lostAt !== null && this.lostAt >= seen) return true
    return Date.now() - seen >= this.idleAfterMs
  }

  /** when PostgreSQL last answered, as an ISO string (the same string while it has not answered again) */
  checkedAt(): string | null {
    const at = this.answeredAt
    if (at === null) return null
    if (this.answeredIso?.at !== at) this.answeredIso = { at, iso: new Date(at).toISOString() }
    return this.answeredIso.iso
  }
}
