// What the status page draws: the last 24 hours of mode changes and of the primary's probe latency,
// kept in memory in bounded form. Mode changes are rare (a ring of the last MODE_CHANGES_MAX); probes
// come every couple of seconds, so they are folded into one bucket per minute (at most 1440).
import type { Mode } from './runtime.ts'

export const HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000
const BUCKET_MS = 60_000
const BUCKETS_MAX = HISTORY_WINDOW_MS / BUCKET_MS
const MODE_CHANGES_MAX = 500

export interface ModeChange {
  /** epoch ms */
  at: number
  mode: Mode
}

/** The probes of one minute. */
export interface ProbeBucket {
  /** epoch ms of the minute's start */
  at: number
  probes: number
  failures: number
  /** of the successful probes; null when none succeeded */
  avg_ms: number | null
  max_ms: number | null
}

export interface HistorySnapshot {
  /** epoch ms of the snapshot */
  now: number
  /** the mode in force at now − 24 h (or at the first record), then every change since, oldest first */
  modes: ModeChange[]
  probes: ProbeBucket[]
}

interface Bucket {
  at: number
  probes: number
  failures: number
  sumMs: number
  maxMs: number
}

export class RuntimeHistory {
  private readonly modes: ModeChange[] = []
  private readonly buckets: Bucket[] = []

  constructor(private readonly clock: () => number = Date.now) {}

  modeChanged(mode: Mode): void {
    const last = this.modes.at(-1)
    if (last?.mode === mode) return
    this.modes.push({ at: this.clock(), mode })
    if (this.modes.length > MODE_CHANGES_MAX) this.modes.splice(0, this.modes.length - MODE_CHANGES_MAX)
  }

  probed(ok: boolean, latencyMs: number): void {
    const now = this.clock()
    const at = now - (now % BUCKET_MS)
    let bucket = this.buckets.at(-1)
    if (!bucket || bucket.at !== at) {
      bucket = { at, probes: 0, failures: 0, sumMs: 0, maxMs: 0 }
      this.buckets.push(bucket)
      if (this.buckets.length > BUCKETS_MAX) this.buckets.splice(0, this.buckets.length - BUCKETS_MAX)
    }
    bucket.probes++
    if (ok) {
      bucket.sumMs += latencyMs
      bucket.maxMs = Math.max(bucket.maxMs, latencyMs)
    } else bucket.failures++
  }

  snapshot(): HistorySnapshot {
    const now = this.clock()
    const since = now - HISTORY_WINDOW_MS
    // The last change before the window says which mode the window starts in.
    const firstInside = this.modes.findIndex((m) => m.at >= since)
    const from = firstInside === -1 ? this.modes.length - 1 : Math.max(0, firstInside - 1)
    const modes = from < 0 ? [] : this.modes.slice(from).map((m) => ({ at: Math.max(m.at, since), mode: m.mode }))
    const probes = this.buckets
      .filter((b) => b.at + BUCKET_MS > since)
      .map((b) => {
        const good = b.probes - b.failures
        return {
          at: b.at,
          probes: b.probes,
          failures: b.failures,
          avg_ms: good > 0 ? Math.round((b.sumMs / good) * 10) / 10 : null,
          max_ms: good > 0 ? Math.round(b.maxMs * 10) / 10 : null,
        }
      })
    return { now, modes, probes }
  }
}
