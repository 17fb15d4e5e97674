// The primary monitor: probes PostgreSQL every HEALTH_CHECK_INTERVAL_MS, watches primary calls for
// one stuck in silence (a failed probe that cost PostgreSQL nothing), keeps an idle primary free of
// traffic (DESIGN §12), and after good probes in fallback mode asks the mode machine to recover.
import type { RuntimeHistory } from '../history.ts'
import type { PostgresStore } from '../postgres/postgres-store.ts'
import { nowIso } from '../store.ts'
import { errorLine } from './error-line.ts'
import type { InFlightCalls } from './in-flight.ts'
import type { ModeMachine } from './modes.ts'
import type { PrimaryHealth } from './primary-health.ts'
import type { Replication } from './replication.ts'

const SUCCESSES_TO_RECOVER = 2
/** the longest pause between probes of a primary that is down while nothing is happening */
const IDLE_PROBE_MAX_MS = 60_000

export interface MonitorParts {
  primary: PostgresStore | null
  health: PrimaryHealth
  modes: ModeMachine
  inFlight: InFlightCalls
  replication: Pick<Replication, 'copyAgainIfWanted'>
  history: RuntimeHistory
  probeIntervalMs: number
  probeTimeoutMs: number
  /** without a database-bound request for this long, primary mode sends PostgreSQL nothing */
  idleAfterMs: number
  autoFailback: boolean
}

export class PrimaryMonitor {
  /** when a request last needed a database, ms since the epoch: idleness is measured from it */
  private lastActivityAt = Date.now()
  /** the pause before the next probe: the configured period, growing while the fallback is idle */
  private probeDelayMs: number
  private timer: ReturnType<typeof setTimeout> | null = null
  /** the monitor's step, once started: a probe, then the next one scheduled */
  private tick: (() => Promise<void>) | null = null
  /**
   * The watch over primary calls (a timer; it sends PostgreSQL nothing): due when the oldest call in
   * flight will have waited a probe deadline while PostgreSQL answered nothing for as long.
   */
  private watch: ReturnType<typeof setTimeout> | null = null
  private probing = false
  private stopped = false

  constructor(private readonly parts: MonitorParts) {
    this.probeDelayMs = parts.probeIntervalMs
  }

  start(): void {
    if (!this.parts.primary || this.timer || this.stopped) return
    this.tick = async () => {
      this.timer = null
      await this.probe()
      this.scheduleProbe()
    }
    this.scheduleProbe()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.watch) clearTimeout(this.watch)
  }

  private scheduleProbe(): void {
    if (this.stopped || !this.tick || this.timer) return
    this.timer = setTimeout(this.tick, this.probeDelayMs)
  }

  // ---- idleness (DESIGN §12) ----

  /** A request needs a database: the primary is no longer idle, and a slowed probe speeds up again. */
  touch(): void {
    this.lastActivityAt = Date.now()
    if (this.probeDelayMs !== this.parts.probeIntervalMs) {
      this.probeDelayMs = this.parts.probeIntervalMs
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      this.scheduleProbe()
    }
  }

  private quietFor(): number {
    return Date.now() - this.lastActivityAt
  }

  /** primary mode with no database-bound request for DATABASE_IDLE_AFTER: PostgreSQL is left alone */
  isIdle(): boolean {
    return this.parts.modes.mode === 'primary' && this.quietFor() >= this.parts.idleAfterMs
  }

  // ---- probes ----

  private async probe(): Promise<void> {
    const { primary, health, modes, probeTimeoutMs } = this.parts
    if (!primary || this.probing) return
    // Idle silence: nothing at all reaches an idle primary, so a scale-to-zero database can sleep.
    if (this.isIdle()) return
    // A call has waited a probe deadline while PostgreSQL, which answered a moment ago and ended no
    // connection since (no nap), answered nothing at all: that is the first failed probe already.
    const stuck = this.callStuckInSilence()
    // Requests reached PostgreSQL since the last probe: it answers, and a probe would only wait in
    // the pool's queue behind them (and blame PostgreSQL for a busy pool).
    // Not while a call has waited longer than a probe would: then PostgreSQL may have stopped answering.
    if (modes.mode === 'primary' && health.seenAt !== null && Date.now() - health.seenAt < this.probeDelayMs && !(this.parts.inFlight.oldestWait() > probeTimeoutMs)) {
      health.status = 'up'
      await this.afterGoodProbe()
      return
    }
    this.probing = true
    try {
      const quick = () => primary.quickPing(probeTimeoutMs)
      const seenBefore = health.seenAt
      const ok = await this.probeOnce(quick)
      // A second failed probe is needed before leaving the primary. A call stuck in silence counts as
      // the first, so this one confirms it — unless PostgreSQL answered a call meanwhile (a busy pool,
      // not a silent server) or ended a connection (a nap may have begun). Otherwise a second probe:
      // when the primary may be waking from a nap (it takes seconds to accept a new connection, and
      // that is no outage) it has the connect deadline; otherwise it is as quick as the first.
      if (!ok && modes.mode === 'primary') {
        const confirmed = stuck && health.seenAt === seenBefore && !health.mayBeWaking()
        if (confirmed || !(await this.probeOnce(health.mayBeWaking() ? () => primary.ping() : quick)))
          modes.enterFallback(health.lastError ?? 'probe failed', 'probe')
      }
      if (ok) await this.afterGoodProbe()
    } finally {
      this.probing = false
    }
    this.watchCalls()
    // In fallback mode the probe goes on (it must see the primary return), less often while idle.
    const idle = modes.mode !== 'primary' && this.quietFor() >= this.parts.idleAfterMs
    this.probeDelayMs = idle ? Math.min(this.probeDelayMs * 2, Math.max(IDLE_PROBE_MAX_MS, this.parts.probeIntervalMs)) : this.parts.probeIntervalMs
  }

  private async probeOnce(ping: () => Promise<void>): Promise<boolean> {
    const { health, history, modes } = this.parts
    health.lastProbeAt = nowIso()
    const started = performance.now()
    try {
      await ping()
      history.probed(true, performance.now() - started)
      health.goodProbes++
      health.answered()
      if (modes.mode === 'primary') health.status = 'up'
      return true
    } catch (err) {
      health.noteFailure(err)
      history.probed(false, performance.now() - started)
      health.goodProbes = 0
      health.status = 'down'
      health.lastError = errorLine(err)
      return false
    }
  }

  /**
   * A re-copy is started without waiting: reading all of PostgreSQL must not stop the probes that
   * would see it fail meanwhile. Recovery is waited for: probes during a replay would only race it.
   */
  private async afterGoodProbe(): Promise<void> {
    const { modes, health } = this.parts
    if (modes.mode === 'primary') {
      this.parts.replication.copyAgainIfWanted()
      return
    }
    if (modes.mode !== 'fallback' || modes.pinned || !this.parts.autoFailback) {
      health.status = 'up'
      return
    }
    if (health.goodProbes >= SUCCESSES_TO_RECOVER) await modes.recover().catch(() => undefined)
  }

  // ---- the watch over primary calls ----

  /**
   * In primary mode, a call has waited longer than a probe deadline, PostgreSQL has answered nothing
   * for as long, and it cannot be waking from a nap (it answered a moment ago and ended no connection
   * since). Such a call is a failed probe that cost PostgreSQL nothing.
   */
  private callStuckInSilence(): boolean {
    const { health, probeTimeoutMs } = this.parts
    return this.parts.modes.mode === 'primary' && this.parts.inFlight.oldestWait() > probeTimeoutMs && health.silence() > probeTimeoutMs && !health.mayBeWaking()
  }

  /**
   * Arms the watch over primary calls while the monitor runs: a timer, due when the oldest call in
   * flight will have waited a probe deadline with PostgreSQL silent as long. When it finds a call
   * stuck in silence, the probe runs at once (and confirms with one quick probe) instead of at its
   * next tick, which activity would have made skip. Anything else: it waits for the next such moment.
   * While a nap is possible it is not armed: the probes decide then, with the connect deadline (the
   * first call made after PostgreSQL answers again arms it).
   */
  watchCalls(): void {
    const { health, inFlight, modes } = this.parts
    if (this.watch || !this.tick || this.stopped || modes.mode !== 'primary' || inFlight.size === 0 || health.mayBeWaking()) return
    const due = this.parts.probeTimeoutMs - Math.min(inFlight.oldestWait(), health.silence())
    this.watch = setTimeout(() => {
      this.watch = null
      if (this.callStuckInSilence()) void this.probe()
      else this.watchCalls()
    }, Math.max(0, due) + 1)
  }
}
