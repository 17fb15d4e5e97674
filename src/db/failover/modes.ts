// The mode machine. primary → fallback on a failed request, two failed probes, a failed boot or an
// admin's switch; fallback → recovering → primary once the outbox is replayed, flipped behind a short
// write pause. Each mode also sets how durable the SQLite file must be.
import type { Logger } from 'pino'
import type { RuntimeHistory } from '../history.ts'
import type { PostgresStore } from '../postgres/postgres-store.ts'
import type { Mode } from '../runtime.ts'
import { isStoreError, newId, nowIso, StoreError, type NewAuditEvent, type Store } from '../store.ts'
import type { ReplayReport } from '../sync.ts'
import type { WriteGate } from '../write-gate.ts'
import { errorLine } from './error-line.ts'
import type { InFlightCalls } from './in-flight.ts'
import type { PrimaryHealth } from './primary-health.ts'
import type { Replication } from './replication.ts'

/** outbox entries few enough to replay while writes wait (one replay batch) */
const REPLAY_UNDER_PAUSE = 500
/** catch-up rounds before writes pause whatever is left */
const CATCH_UP_ROUNDS = 5

export type FailoverCause = 'request' | 'probe' | 'boot' | 'manual'

export interface ModeParts {
  primary: PostgresStore | null
  primaryConfigured: boolean
  health: PrimaryHealth
  inFlight: InFlightCalls
  gate: WriteGate
  replication: Replication
  history: RuntimeHistory
  log: Logger
  /** appends an audit event the way a route would (through the routed store) */
  audit(event: NewAuditEvent): Promise<unknown>
  /** runs on PostgreSQL after each recovery (seeding again), errors are logged */
  afterRecovery?: (primary: Store) => Promise<void>
}

export class ModeMachine {
  private current!: Mode
  private pinnedByAdmin = false
  lastFailoverAt: string | null = null
  lastRecoveryAt: string | null = null
  private recovery: Promise<void> | null = null
  private outboxMayHoldEntries = true

  constructor(
    private readonly parts: ModeParts,
    start: Mode,
  ) {
    this.mode = start
  }

  get mode(): Mode {
    return this.current
  }

  /** every assignment of the mode goes through here, so the history sees each change */
  private set mode(mode: Mode) {
    this.current = mode
    this.parts.history.modeChanged(mode)
  }

  /** true after an admin switched to the fallback: no recovery by itself until switched back */
  get pinned(): boolean {
    return this.pinnedByAdmin
  }

  /** An admin's switch to the fallback, which stays until an admin switches back. */
  pinToFallback(): void {
    this.pinnedByAdmin = true
    this.enterFallback('switched by an admin', 'manual')
  }

  /** An admin's switch back: recovery may run again. */
  unpin(): void {
    this.pinnedByAdmin = false
  }

  /** outbox entries PostgreSQL has not received; no query while the outbox is known to be empty */
  outboxPending(): number {
    return this.outboxMayHoldEntries ? this.parts.replication.fallback.outbox.count() : 0
  }

  enterFallback(reason: string, cause: FailoverCause): void {
    const { health } = this.parts
    health.lastError = cause === 'manual' ? health.lastError : reason
    if (cause !== 'manual') health.status = 'down'
    if (this.mode !== 'primary') return
    // Before anything else reaches SQLite: what PostgreSQL committed is read from there from now on.
    void this.parts.replication.flushMirror()
    this.mode = 'fallback'
    health.goodProbes = 0
    this.lastFailoverAt = nowIso()
    this.applyDurability()
    this.parts.inFlight.abandon(new StoreError('unavailable', 'abandoned: the store failed over to SQLite'))
    this.parts.log.warn({ event: 'failover', cause, reason }, 'PostgreSQL unavailable: serving from SQLite, recording writes in the outbox for replay')
    this.auditQuietly('db.failover', { cause, reason })
  }

  applyDurability(): void {
    const fallback = this.parts.replication.fallback
    const recording = this.mode !== 'primary' && this.parts.primaryConfigured
    fallback.setOutboxRecording(recording)
    // Only recording adds outbox entries: while it is off and the outbox was found empty, /health
    // need not count it.
    this.outboxMayHoldEntries = recording || fallback.outbox.count() > 0
    // While SQLite holds writes PostgreSQL has not seen, a power cut must not lose them.
    fallback.setSynchronous(this.outboxMayHoldEntries ? 'FULL' : 'NORMAL')
  }

  /** Replays the outbox, then flips to primary behind a short write pause. */
  recover(): Promise<void> {
    this.recovery ??= this.runRecovery().finally(() => (this.recovery = null))
    return this.recovery
  }

  /** resolves once a recovery under way has ended, however it ended */
  async settled(): Promise<void> {
    await this.recovery?.catch(() => undefined)
  }

  private async runRecovery(): Promise<void> {
    const { primary, replication, gate, health, log } = this.parts
    if (!primary || this.mode === 'primary') return
    const started = performance.now()
    this.mode = 'recovering'
    log.info({ event: 'recovering', outbox_pending: replication.fallback.outbox.count() }, 'PostgreSQL is back: replaying the outbox')
    let flipped = false
    try {
      await primary.migrate()
      const total = { applied: 0, conflicts: 0, duplicates: 0 }
      const add = (r: ReplayReport) => {
        total.applied += r.applied
        total.conflicts += r.conflicts
        total.duplicates += r.duplicates
      }
      // Writes keep coming while we replay, so "replay until the outbox is empty" never ends while
      // they come faster than the replay goes. Each round takes only what was there when it began;
      // once little is left, or a round did not shrink the backlog, or after a few rounds, the writes
      // pause and the rest is replayed, alone and so at full speed.
      let before = Infinity
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const pending = replication.fallback.outbox.count()
        if (pending <= REPLAY_UNDER_PAUSE || pending >= before) break
        before = pending
        add(await replication.replay(pending))
      }
      await gate.pause()
      try {
        add(await replication.replay())
        this.mode = 'primary'
        flipped = true
        this.applyDurability()
      } finally {
        gate.resume()
      }
      health.status = 'up'
      health.lastError = null
      health.answered()
      this.lastRecoveryAt = nowIso()
      const { applied, conflicts } = total
      const ms = Math.round(performance.now() - started)
      log.info({ event: 'recovered', applied, conflicts, duplicates: total.duplicates, duration_ms: ms }, 'back on PostgreSQL')
      this.auditQuietly('db.recovered', { applied, conflicts, duration_ms: ms })
      if (conflicts > 0) log.warn({ event: 'sync_conflicts', conflicts }, 'some replayed writes clashed with PostgreSQL; see GET /api/v1/sqlite-fallback/conflicts')
      await this.parts.afterRecovery?.(primary).catch((err) =>
        log.warn({ event: 'after_recovery_failed', reason: errorLine(err) }, 'post-recovery step failed'),
      )
      replication.copyInBackground()
    } catch (err) {
      if (!flipped) this.mode = 'fallback'
      this.applyDurability()
      health.goodProbes = 0
      if (!isStoreError(err, 'unavailable')) {
        log.error({ event: 'replay_failed', reason: errorLine(err) }, 'replaying the outbox failed; staying on SQLite')
        throw err
      }
      health.status = 'down'
      health.lastError = err.message
      log.warn({ event: 'replay_interrupted', reason: err.message }, 'PostgreSQL went away again during replay; staying on SQLite')
      throw err
    }
  }

  private auditQuietly(action: string, details: Record<string, unknown>): void {
    this.parts.audit({ id: newId(), action, details }).catch((err) => {
      this.parts.log.warn({ event: 'audit_failed', action, reason: errorLine(err) }, 'could not record an audit event')
    })
  }
}
