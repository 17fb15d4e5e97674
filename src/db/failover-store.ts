// The coordinator: one Store that answers from PostgreSQL while it can and from SQLite while it
// cannot, journals what SQLite accepts, and replays it into PostgreSQL when PostgreSQL is back.
//
//   primary     reads and writes on PostgreSQL; every committed row is mirrored into SQLite
//   fallback    reads and writes on SQLite; every written row also goes to the outbox, in the same
//               SQLite transaction
//   recovering  as fallback, while the outbox is replayed; a short write pause flips to primary
import { rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { backupFallback } from './backup.ts'
import { RuntimeHistory, type HistorySnapshot } from './history.ts'
import { Mirror } from './mirror.ts'
import { defineOwnedRepos, OWNED_REPO_KINDS, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from './owned.ts'
import type { PostgresStore } from './postgres/postgres-store.ts'
import type { DatabaseRuntime, Mode, ProbeResult, RuntimeStatus, SyncConflict } from './runtime.ts'
import type { SqliteStore } from './sqlite/sqlite-store.ts'
import {
  isStoreError,
  newId,
  nowIso,
  StoreError,
  type AuditRepo,
  type Caller,
  type MigrationReport,
  type RowChange,
  type SessionRepo,
  type SettingsRepo,
  type Store,
  type StoreKind,
  type UserRepo,
} from './store.ts'
import { copySnapshot, replayOutbox, ReplayPace, type ReplayReport } from './sync.ts'
import { WriteGate } from './write-gate.ts'
import type { OpenedStores } from './open.ts'

/** What openStores found (reopenFallback may be left out: then cleanup cannot reopen), and how to run. */
export interface FailoverStoreOptions extends Omit<OpenedStores, 'reopenFallback'> {
  reopenFallback?: OpenedStores['reopenFallback']
  logger: Logger
  probeIntervalMs: number
  /** default 1000 */
  probeTimeoutMs?: number
  /**
   * Without a database-bound request for this long, primary mode sends PostgreSQL nothing, so a
   * scale-to-zero database can suspend; fallback mode probes less often. Default 60 s.
   */
  idleAfterMs?: number
  autoFailback: boolean
  backup: { dir: string; keep: number }
  /** runs on PostgreSQL after each recovery (seeding again), errors are logged */
  afterRecovery?: (primary: Store) => Promise<void>
  /** where mode changes and probe latencies are recorded; default a new one */
  history?: RuntimeHistory
}

// Which repository methods write: they take the write gate and are journaled in fallback mode.
const WRITES = {
  users: ['create', 'createIfAbsent', 'update', 'setPassword', 'softDelete', 'changeAccount', 'disableAccount'],
  sessions: ['create', 'rotate', 'revoke', 'revokeAllForUser', 'endSessions'],
  audit: ['append'],
  settings: ['set', 'setIfAbsent'],
} as const
const READS = {
  users: ['getById', 'getByEmail', 'getForSession', 'list'],
  sessions: ['getByTokenHash', 'getWithUser'],
  audit: ['list'],
  settings: ['get'],
} as const
type RepoName = keyof typeof WRITES

const SUCCESSES_TO_RECOVER = 2
/** the longest pause between probes of a primary that is down while nothing is happening */
const IDLE_PROBE_MAX_MS = 60_000
const DEFAULT_IDLE_AFTER_MS = 60_000
/** outbox entries few enough to replay while writes wait (one replay batch) */
const REPLAY_UNDER_PAUSE = 500
/** catch-up rounds before writes pause whatever is left */
const CATCH_UP_ROUNDS = 5

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface FailoverStore extends OwnedRepos {}

export class FailoverStore implements Store, DatabaseRuntime {
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo

  private fallback: SqliteStore
  private outboxMayHoldEntries = true
  /** read once per file: /health must not query SQLite */
  private fallbackJournalMode: string
  private readonly primary: PostgresStore | null
  private readonly log: Logger
  private readonly recorded: RuntimeHistory
  private modeNow!: Mode
  private primaryStatus: 'up' | 'down' | 'unconfigured'
  private primaryError: string | null
  private lastProbeAt: string | null = null
  /** when PostgreSQL last answered (a probe or a request), ms since the epoch */
  private primarySeenAt: number | null = null
  /** when the primary last ended a connection of ours (a nap or a restart does), ms since the epoch */
  private primaryLostAt: number | null = null
  /** primarySeenAt as status() reports it: formatted once per value, not on every /health */
  private primarySeenIso: { at: number; iso: string } | null = null
  /** when a request last needed a database, ms since the epoch: idleness is measured from it */
  private lastActivityAt = Date.now()
  /** the pause before the next probe: the configured period, growing while the fallback is idle */
  private probeDelayMs: number
  /** one reconnect attempt shared by every request that saw the primary fail at once */
  private reconnecting: Promise<boolean> | null = null
  private lastFailoverAt: string | null = null
  private lastRecoveryAt: string | null = null
  private pinned = false
  private successes = 0
  private readonly gate = new WriteGate()
  private readonly pace = new ReplayPace()
  /** rejecters of the primary calls in flight: on failover they stop waiting for a dead socket */
  private readonly inFlight = new Map<(err: StoreError) => void, number>()
  private recovery: Promise<void> | null = null
  private copying: RowChange[] | null = null
  private readonly mirror: Mirror
  private recopyWanted = false
  private timer: ReturnType<typeof setTimeout> | null = null
  /** the monitor's step, once started: a probe, then the next one scheduled */
  private tick: (() => Promise<void>) | null = null
  /**
   * The watch over primary calls (a timer; it sends PostgreSQL nothing): due when the oldest call in
   * flight will have waited a probe deadline while PostgreSQL answered nothing for as long.
   */
  private watch: ReturnType<typeof setTimeout> | null = null
  private probing = false
  private closed = false

  constructor(private readonly opts: FailoverStoreOptions) {
    this.primary = opts.primary
    this.fallback = opts.fallback
    this.fallbackJournalMode = opts.fallback.journalMode()
    this.log = opts.logger
    this.recorded = opts.history ?? new RuntimeHistory()
    this.primaryStatus = !opts.primaryConfigured ? 'unconfigured' : opts.primaryUp && opts.primary ? 'up' : 'down'
    this.primaryError = opts.primaryError
    this.mode = this.primaryStatus === 'up' ? 'primary' : 'fallback'
    if (this.primaryStatus === 'up') this.primarySeenAt = Date.now()
    this.probeDelayMs = opts.probeIntervalMs
    this.mirror = new Mirror({
      apply: (changes) => this.fallback.applyMirrored(changes),
      failed: (err) => {
        // A mirror that missed a row is no longer a faithful copy: copy it whole again.
        this.log.warn({ event: 'mirror_failed', reason: errorLine(err) }, 'mirroring a write into SQLite failed; a full re-copy is scheduled')
        this.recopyWanted = true
      },
    })
    this.users = this.routed('users')
    this.sessions = this.routed('sessions')
    this.audit = this.routed('audit')
    this.settings = this.routed('settings')
  }

  /** every assignment of the mode goes through here, so the history sees each change */
  private get mode(): Mode {
    return this.modeNow
  }

  private set mode(mode: Mode) {
    this.modeNow = mode
    this.recorded.modeChanged(mode)
  }

  get kind(): StoreKind {
    return this.mode === 'primary' ? 'postgresql' : 'sqlite'
  }

  get store(): Store {
    return this
  }

  // ---- boot ----

  /** Migrates both databases, replays a left-over outbox, warms the fallback, settles the mode. */
  async init(): Promise<void> {
    await this.fallback.migrate()
    if (this.mode === 'primary' && this.primary) {
      try {
        await this.primary.migrate()
        if (this.fallback.outbox.count() > 0) {
          const report = await this.replay(this.primary)
          this.log.info({ event: 'replay', ...report }, 'replayed writes left from an earlier outage into PostgreSQL')
        }
        await this.copyToFallback()
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
        this.enterFallback(err.message, 'boot')
      }
    }
    this.applyDurability()
  }

  startMonitor(): void {
    if (!this.primary || this.timer || this.closed) return
    const tick = async () => {
      this.timer = null
      await this.probe()
      this.scheduleProbe()
    }
    this.tick = tick
    this.scheduleProbe()
  }

  private scheduleProbe(): void {
    if (this.closed || !this.tick || this.timer) return
    this.timer = setTimeout(this.tick, this.probeDelayMs)
  }

  // ---- idleness (DESIGN §12) ----

  /** A request needs a database: the primary is no longer idle, and a slowed probe speeds up again. */
  private touch(): void {
    this.lastActivityAt = Date.now()
    if (this.probeDelayMs !== this.opts.probeIntervalMs) {
      this.probeDelayMs = this.opts.probeIntervalMs
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      this.scheduleProbe()
    }
  }

  private quietFor(): number {
    return Date.now() - this.lastActivityAt
  }

  /** primary mode with no database-bound request for DATABASE_IDLE_AFTER: PostgreSQL is left alone */
  private isIdle(): boolean {
    return this.mode === 'primary' && this.quietFor() >= (this.opts.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS)
  }

  // ---- routing ----

  /** `name`'s repository, each call routed to the store in use (`view` of it: the caller's, for as()) */
  private routed<R extends RepoName>(name: R, view: (s: Store) => Store = (s) => s): Store[R] {
    const repo: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
    for (const method of WRITES[name])
      repo[method] = (...args) => this.write((s) => (view(s)[name] as unknown as Record<string, Function>)[method]!(...args), method)
    for (const method of READS[name])
      repo[method] = (...args) => this.read((s) => (view(s)[name] as unknown as Record<string, Function>)[method]!(...args))
    return repo as unknown as Store[R]
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return this.routedResource(table)
  }

  /** the owned resource `table`'s repository, routed as routed() routes the others */
  private routedResource<T extends OwnedTable>(table: T, view: (s: Store) => Store = (s) => s): OwnedRepo<FieldsOf<T>> {
    const repo: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
    const repoIn = (s: Store) => view(s).resource(table) as unknown as Record<string, Function>
    for (const [method, kind] of Object.entries(OWNED_REPO_KINDS))
      repo[method] = kind === 'read' ? (...args) => this.read((s) => repoIn(s)[method]!(...args)) : (...args) => this.write((s) => repoIn(s)[method]!(...args), method)
    return repo as unknown as OwnedRepo<FieldsOf<T>>
  }

  /** This store acting for `caller` (Store.as): routed as any call, checked by whichever store serves it. */
  as(caller: Caller): Store {
    const self = this
    const on = (s: Store) => s.as(caller)
    const view: Omit<Store, keyof OwnedRepos> = {
      get kind() {
        return self.kind
      },
      get users() {
        return self.routed('users', on)
      },
      get sessions() {
        return self.routed('sessions', on)
      },
      get audit() {
        return self.routed('audit', on)
      },
      get settings() {
        return self.routed('settings', on)
      },
      ping: () => this.ping(),
      migrate: () => this.migrate(),
      transaction: (fn) => this.write((s) => on(s).transaction(fn)),
      resource: (table) => this.routedResource(table, on),
      as: (other) => this.as(other),
      close: () => this.close(),
    }
    defineOwnedRepos(view)
    return view as Store
  }

  private async read<T>(run: (s: Store) => Promise<T>, activity = true): Promise<T> {
    if (activity) this.touch()
    if (this.mode === 'primary' && this.primary) {
      const primary = this.primary
      try {
        return await this.onPrimaryAgainAfterNap(() => run(primary))
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
        this.enterFallback(err.message, 'request')
      }
    }
    return run(this.fallback)
  }

  private async write<T>(run: (s: Store) => Promise<T>, method?: string): Promise<T> {
    this.touch()
    await this.gate.enter()
    try {
      if (this.mode === 'primary' && this.primary) {
        const primary = this.primary
        let attempts = 0
        try {
          return await this.onPrimaryAgainAfterNap(async () => {
            attempts++
            // Rows are mirrored only from the attempt that succeeded: a failed one may have been rolled back.
            const changes: RowChange[] = []
            try {
              const result = await run(primary.withChangeSink((c) => changes.push(c)))
              this.copying?.push(...changes)
              this.mirror.add(changes)
              return result
            } catch (err) {
              // The first attempt may have deleted the row before its connection died: the delete
              // asked for has happened (creates and rotations recognise their own rows in SQL).
              if (attempts > 1 && method === 'softDelete' && isStoreError(err, 'not_found')) return undefined as T
              throw err
            }
          })
        } catch (err) {
          if (!isStoreError(err, 'unavailable')) throw err
          // Safe to repeat on SQLite: ids come from the caller and replay is last-writer-wins, so a
          // write PostgreSQL did commit before the connection died is not duplicated.
          this.enterFallback(err.message, 'request')
        }
      }
      return await run(this.fallback)
    } finally {
      this.gate.leave()
    }
  }

  /**
   * A primary call; when it fails at the connection level, one reconnect under the connect deadline
   * (DATABASE_TIMEOUT) decides: a database waking from a nap (Neon's suspended compute), a pooler
   * that dropped its connections or whose ways the pool just learnt answers it, and the call goes
   * again on PostgreSQL — no failover, no outbox entry. Only a failed reconnect fails over.
   */
  private async onPrimaryAgainAfterNap<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.onPrimary(call())
    } catch (err) {
      if (!isStoreError(err, 'unavailable')) throw err
      this.noteFailure(err)
      // Refused or an unknown host: a fresh connection would be refused too (a napping database
      // still accepts connections), so the failover is not delayed by a reconnect.
      if (err.connection === 'refused' || !(await this.reconnect())) throw err
      return await this.onPrimary(call())
    }
  }

  /** A connection the primary ended (a nap or a restart ends them all) makes a slow wake-up possible. */
  private noteFailure(err: unknown): void {
    if (isStoreError(err) && err.connection === 'lost') this.primaryLostAt = Date.now()
  }

  /**
   * May the primary be waking up, so that a connection takes up to DATABASE_TIMEOUT? Only after it
   * ended our connections, or after a silence as long as idleness (a scale-to-zero database suspends
   * only after minutes without work). A primary that answered a moment ago and now says nothing on
   * open connections is not asleep: it is unreachable (a blackhole), and waiting longer changes nothing.
   */
  private mayBeWaking(): boolean {
    const seen = this.primarySeenAt
    if (seen === null) return true
    if (this.primaryLostAt !== null && this.primaryLostAt >= seen) return true
    return Date.now() - seen >= (this.opts.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS)
  }

  /** Does the primary answer a fresh connection within the connect deadline? One attempt at a time. */
  private reconnect(): Promise<boolean> {
    const primary = this.primary
    // Another request or the monitor has failed over meanwhile: the decision is made.
    if (!primary || this.mode !== 'primary') return Promise.resolve(false)
    this.reconnecting ??= primary
      .ping()
      .then(
        () => {
          this.primarySeenAt = Date.now()
          return true
        },
        (err: unknown) => {
          this.noteFailure(err)
          this.primaryError = errorLine(err)
          return false
        },
      )
      .finally(() => (this.reconnecting = null))
    return this.reconnecting.then((ok) => ok && this.mode === 'primary')
  }

  /** A primary call, abandoned (as unavailable) as soon as the store fails over. */
  private onPrimary<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.inFlight.set(reject, performance.now())
      if (this.watch === null) this.watchCalls()
      call.then(
        (value) => {
          this.inFlight.delete(reject)
          this.primarySeenAt = Date.now()
          resolve(value)
        },
        (error: unknown) => {
          this.inFlight.delete(reject)
          // a refusal of the data (a unique key, a missing row, the caller check) is an answer too
          if (isStoreError(error) && error.kind !== 'unavailable') this.primarySeenAt = Date.now()
          reject(error)
        },
      )
    })
  }

  /** resolves once every row PostgreSQL committed so far is in SQLite (see Mirror) */
  mirrored(): Promise<void> {
    return this.mirror.flush()
  }

  // ---- Store ----

  async ping(): Promise<void> {
    await this.read((s) => s.ping())
  }

  /** the active store answers; not activity, and no I/O while the primary is idle */
  private async pingActive(): Promise<void> {
    if (this.isIdle()) return
    await this.read((s) => s.ping(), false)
  }

  async migrate(): Promise<MigrationReport> {
    const report = await this.fallback.migrate()
    if (this.mode === 'primary' && this.primary) return this.primary.migrate()
    return report
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.write((s) => s.transaction(fn))
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    if (this.watch) clearTimeout(this.watch)
    await this.recovery?.catch(() => undefined)
    await this.mirror.flush()
    await this.primary?.close().catch(() => undefined)
    try {
      this.fallback.checkpoint()
    } catch {
      // an in-memory or already-closed database has nothing to checkpoint
    }
    await this.fallback.close()
  }

  // ---- mode changes ----

  private enterFallback(reason: string, cause: 'request' | 'probe' | 'boot' | 'manual'): void {
    this.primaryError = cause === 'manual' ? this.primaryError : reason
    if (cause !== 'manual') this.primaryStatus = 'down'
    if (this.mode !== 'primary') return
    // Before anything else reaches SQLite: what PostgreSQL committed is read from there from now on.
    void this.mirror.flush()
    this.mode = 'fallback'
    this.successes = 0
    this.lastFailoverAt = nowIso()
    this.applyDurability()
    const abandoned = new StoreError('unavailable', 'abandoned: the store failed over to SQLite')
    for (const reject of this.inFlight.keys()) reject(abandoned)
    this.inFlight.clear()
    this.log.warn({ event: 'failover', cause, reason }, 'PostgreSQL unavailable: serving from SQLite, journaling writes for replay')
    this.auditQuietly('db.failover', { cause, reason })
  }

  private applyDurability(): void {
    const journaling = this.mode !== 'primary' && this.opts.primaryConfigured
    this.fallback.setJournaling(journaling)
    // Only journaling adds outbox entries: while it is off and the outbox was found empty, /health
    // need not count it.
    this.outboxMayHoldEntries = journaling || this.fallback.outbox.count() > 0
    // While SQLite holds writes PostgreSQL has not seen, a power cut must not lose them.
    this.fallback.setSynchronous(this.outboxMayHoldEntries ? 'FULL' : 'NORMAL')
  }

  private auditQuietly(action: string, details: Record<string, unknown>): void {
    this.audit.append({ id: newId(), action, details }).catch((err) => {
      this.log.warn({ event: 'audit_failed', action, reason: errorLine(err) }, 'could not record an audit event')
    })
  }

  /** Replays the outbox, then flips to primary behind a short write pause. */
  private recover(): Promise<void> {
    this.recovery ??= this.runRecovery().finally(() => (this.recovery = null))
    return this.recovery
  }

  private async runRecovery(): Promise<void> {
    const primary = this.primary
    if (!primary || this.mode === 'primary') return
    const started = performance.now()
    this.mode = 'recovering'
    this.log.info({ event: 'recovering', outbox_pending: this.fallback.outbox.count() }, 'PostgreSQL is back: replaying journaled writes')
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
        const pending = this.fallback.outbox.count()
        if (pending <= REPLAY_UNDER_PAUSE || pending >= before) break
        before = pending
        add(await this.replay(primary, pending))
      }
      await this.gate.pause()
      try {
        add(await this.replay(primary))
        this.mode = 'primary'
        flipped = true
        this.applyDurability()
      } finally {
        this.gate.resume()
      }
      this.primaryStatus = 'up'
      this.primaryError = null
      this.primarySeenAt = Date.now()
      this.lastRecoveryAt = nowIso()
      const { applied, conflicts } = total
      const ms = Math.round(performance.now() - started)
      this.log.info({ event: 'recovered', applied, conflicts, duplicates: total.duplicates, duration_ms: ms }, 'back on PostgreSQL')
      this.auditQuietly('db.recovered', { applied, conflicts, duration_ms: ms })
      if (conflicts > 0) this.log.warn({ event: 'sync_conflicts', conflicts }, 'some journaled writes clashed with PostgreSQL; see GET /api/v1/sqlite-fallback/conflicts')
      await this.opts.afterRecovery?.(primary).catch((err) =>
        this.log.warn({ event: 'after_recovery_failed', reason: errorLine(err) }, 'post-recovery step failed'),
      )
      // Not waited for: the monitor must go on probing the primary while the copy reads all of it.
      void this.copyToFallback().catch((err) => {
        this.recopyWanted = true
        this.log.warn({ event: 'copy_failed', reason: errorLine(err) }, 'copying PostgreSQL into SQLite failed; will retry')
      })
    } catch (err) {
      if (!flipped) this.mode = 'fallback'
      this.applyDurability()
      this.successes = 0
      if (!isStoreError(err, 'unavailable')) {
        this.log.error({ event: 'replay_failed', reason: errorLine(err) }, 'replaying the outbox failed; staying on SQLite')
        throw err
      }
      this.primaryStatus = 'down'
      this.primaryError = err.message
      this.log.warn({ event: 'replay_interrupted', reason: err.message }, 'PostgreSQL went away again during replay; staying on SQLite')
      throw err
    }
  }

  /** the outbox into PostgreSQL (at most `maxEntries`), at a pace that adapts to what commits */
  private async replay(primary: PostgresStore, maxEntries?: number): Promise<ReplayReport> {
    try {
      return await replayOutbox(primary, this.fallback, { pace: this.pace, maxEntries })
    } catch (err) {
      if (isStoreError(err, 'unavailable')) this.pace.failed()
      throw err
    }
  }

  private async copyToFallback(): Promise<{ tables: Record<string, number>; duration_ms: number }> {
    const primary = this.requirePrimary()
    if (this.copying) throw new StoreError('conflict', 'a copy of PostgreSQL into the fallback is already running')
    if (this.fallback.outbox.count() > 0)
      throw new StoreError('conflict', 'the fallback holds writes PostgreSQL has not received yet; sync them to the primary first')
    const started = performance.now()
    // Rows mirrored while the snapshot is taken may be newer than the snapshot: re-apply them after.
    this.copying = []
    try {
      const { tables } = await copySnapshot(primary, this.fallback)
      await this.fallback.applyMirrored(this.copying)
      this.recopyWanted = false
      return { tables, duration_ms: Math.round(performance.now() - started) }
    } finally {
      this.copying = null
    }
  }

  private requirePrimary(): PostgresStore {
    if (!this.primary) throw new StoreError('unavailable', 'no usable primary database is configured')
    return this.primary
  }

  // ---- the monitor ----

  private async probe(): Promise<void> {
    const primary = this.primary
    if (!primary || this.probing) return
    // Idle silence: nothing at all reaches an idle primary, so a scale-to-zero database can sleep.
    if (this.isIdle()) return
    // A call has waited a probe deadline while PostgreSQL, which answered a moment ago and ended no
    // connection since (no nap), answered nothing at all: that is the first failed probe already.
    const stuck = this.callStuckInSilence()
    // Requests reached PostgreSQL since the last probe: it answers, and a probe would only wait in
    // the pool's queue behind them (and blame PostgreSQL for a busy pool).
    // Not while a call has waited longer than a probe would: then PostgreSQL may have stopped answering.
    if (this.mode === 'primary' && this.primarySeenAt !== null && Date.now() - this.primarySeenAt < this.probeDelayMs && !this.callWaitingLongerThan(this.probeTimeoutMs)) {
      this.primaryStatus = 'up'
      await this.afterGoodProbe()
      return
    }
    this.probing = true
    try {
      const quick = () => primary.quickPing(this.probeTimeoutMs)
      const seenBefore = this.primarySeenAt
      const ok = await this.probeOnce(quick)
      // A second failed probe is needed before leaving the primary. A call stuck in silence counts as
      // the first, so this one confirms it — unless PostgreSQL answered a call meanwhile (a busy pool,
      // not a silent server) or ended a connection (a nap may have begun). Otherwise a second probe:
      // when the primary may be waking from a nap (it takes seconds to accept a new connection, and
      // that is no outage) it has the connect deadline; otherwise it is as quick as the first.
      if (!ok && this.mode === 'primary') {
        const confirmed = stuck && this.primarySeenAt === seenBefore && !this.mayBeWaking()
        if (confirmed || !(await this.probeOnce(this.mayBeWaking() ? () => primary.ping() : quick)))
          this.enterFallback(this.primaryError ?? 'probe failed', 'probe')
      }
      if (ok) await this.afterGoodProbe()
    } finally {
      this.probing = false
    }
    this.watchCalls()
    // In fallback mode the probe goes on (it must see the primary return), less often while idle.
    const idle = this.mode !== 'primary' && this.quietFor() >= (this.opts.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS)
    this.probeDelayMs = idle ? Math.min(this.probeDelayMs * 2, Math.max(IDLE_PROBE_MAX_MS, this.opts.probeIntervalMs)) : this.opts.probeIntervalMs
  }

  /** Has a primary call been waiting for longer than `ms`? */
  private callWaitingLongerThan(ms: number): boolean {
    return this.oldestCallWait() > ms
  }

  /** how long the oldest primary call in flight has waited, in ms (a Map keeps insertion order) */
  private oldestCallWait(): number {
    for (const startedAt of this.inFlight.values()) return performance.now() - startedAt
    return 0
  }

  /** ms since PostgreSQL last answered anything (a call, a probe, a reconnect) */
  private silence(): number {
    return this.primarySeenAt === null ? Infinity : Date.now() - this.primarySeenAt
  }

  private get probeTimeoutMs(): number {
    return this.opts.probeTimeoutMs ?? 1000
  }

  /**
   * In primary mode, a call has waited longer than a probe deadline, PostgreSQL has answered nothing
   * for as long, and it cannot be waking from a nap (it answered a moment ago and ended no connection
   * since). Such a call is a failed probe that cost PostgreSQL nothing.
   */
  private callStuckInSilence(): boolean {
    const deadline = this.probeTimeoutMs
    return this.mode === 'primary' && this.oldestCallWait() > deadline && this.silence() > deadline && !this.mayBeWaking()
  }

  /**
   * Arms the watch over primary calls while the monitor runs: a timer, due when the oldest call in
   * flight will have waited a probe deadline with PostgreSQL silent as long. When it finds a call
   * stuck in silence, the probe runs at once (and confirms with one quick probe) instead of at its
   * next tick, which activity would have made skip. Anything else: it waits for the next such moment.
   * While a nap is possible it is not armed: the probes decide then, with the connect deadline (the
   * first call made after PostgreSQL answers again arms it).
   */
  private watchCalls(): void {
    if (this.watch || !this.tick || this.closed || this.mode !== 'primary' || this.inFlight.size === 0 || this.mayBeWaking()) return
    const due = this.probeTimeoutMs - Math.min(this.oldestCallWait(), this.silence())
    this.watch = setTimeout(() => {
      this.watch = null
      if (this.callStuckInSilence()) void this.probe()
      else this.watchCalls()
    }, Math.max(0, due) + 1)
  }

  private async probeOnce(ping: () => Promise<void>): Promise<boolean> {
    this.lastProbeAt = nowIso()
    const started = performance.now()
    try {
      await ping()
      this.recorded.probed(true, performance.now() - started)
      this.successes++
      this.primarySeenAt = Date.now()
      if (this.mode === 'primary') this.primaryStatus = 'up'
      return true
    } catch (err) {
      this.noteFailure(err)
      this.recorded.probed(false, performance.now() - started)
      this.successes = 0
      this.primaryStatus = 'down'
      this.primaryError = errorLine(err)
      return false
    }
  }

  /**
   * A re-copy is started without waiting: reading all of PostgreSQL must not stop the probes that
   * would see it fail meanwhile. Recovery is waited for: probes during a replay would only race it.
   */
  private async afterGoodProbe(): Promise<void> {
    if (this.mode === 'primary') {
      if (this.recopyWanted && !this.copying) void this.copyToFallback().catch(() => undefined)
      return
    }
    if (this.mode !== 'fallback' || this.pinned || !this.opts.autoFailback) {
      this.primaryStatus = 'up'
      return
    }
    if (this.successes >= SUCCESSES_TO_RECOVER) await this.recover().catch(() => undefined)
  }

  /** when PostgreSQL last answered, as an ISO string (the same string while it has not answered again) */
  private checkedAt(): string | null {
    const at = this.primarySeenAt
    if (at === null) return null
    if (this.primarySeenIso?.at !== at) this.primarySeenIso = { at, iso: new Date(at).toISOString() }
    return this.primarySeenIso.iso
  }

  // ---- DatabaseRuntime ----

  status(): RuntimeStatus {
    return {
      mode: this.mode,
      activeKind: this.kind,
      fallbackActive: this.mode !== 'primary',
      primary: {
        configured: this.opts.primaryConfigured,
        status: this.primaryStatus,
        lastError: this.primaryStatus === 'up' ? null : this.primaryError,
        lastProbeAt: this.lastProbeAt,
        idle: this.isIdle(),
        checkedAt: this.checkedAt(),
        pooler: this.primary?.poolerNotes() ?? [],
      },
      fallback: {
        ok: true,
        path: this.fallback.path,
        persistent: this.opts.fallbackPersistent,
        journalMode: this.fallbackJournalMode,
      },
      outboxPending: this.outboxMayHoldEntries ? this.fallback.outbox.count() : 0,
      pinnedToFallback: this.pinned,
      lastFailoverAt: this.lastFailoverAt,
      lastRecoveryAt: this.lastRecoveryAt,
    }
  }

  history(): HistorySnapshot {
    return this.recorded.snapshot()
  }

  async ready(): Promise<boolean> {
    try {
      await this.pingActive()
      return true
    } catch {
      return false
    }
  }

  async test(): Promise<{ primary: ProbeResult | null; fallback: ProbeResult }> {
    const timed = async (ping: () => Promise<void>): Promise<ProbeResult> => {
      const started = performance.now()
      try {
        await ping()
        return { ok: true, latency_ms: round(performance.now() - started) }
      } catch (err) {
        return { ok: false, latency_ms: round(performance.now() - started), error: errorLine(err) }
      }
    }
    const primary = this.primary
    return {
      primary: primary ? await timed(() => primary.ping(this.probeTimeoutMs)) : null,
      fallback: await timed(() => this.fallback.ping()),
    }
  }

  async switchToFallback(): Promise<Mode> {
    this.pinned = true
    this.enterFallback('switched by an admin', 'manual')
    return this.mode
  }

  async switchToPrimary(): Promise<Mode> {
    const primary = this.requirePrimary()
    await primary.ping(this.probeTimeoutMs)
    this.pinned = false
    this.primaryStatus = 'up'
    await this.recover()
    return this.mode
  }

  copyPrimaryToFallback(): Promise<{ tables: Record<string, number>; duration_ms: number }> {
    return this.copyToFallback()
  }

  async syncToPrimary(): Promise<{ applied: number; conflicts: number; remaining: number }> {
    const { applied, conflicts, remaining } = await this.replay(this.requirePrimary())
    this.applyDurability()
    return { applied, conflicts, remaining }
  }

  async backup(): Promise<{ file: string; size_bytes: number; created_at: string }> {
    await this.mirror.flush()
    return backupFallback(this.fallback, this.opts.backup.dir, this.opts.backup.keep)
  }

  async cleanup(): Promise<void> {
    if (this.mode !== 'primary') throw new StoreError('conflict', 'the fallback is serving requests; switch to the primary first')
    if (this.fallback.outbox.count() > 0) throw new StoreError('conflict', 'the fallback holds writes PostgreSQL has not received; sync them first')
    const reopen = this.opts.reopenFallback
    if (!reopen) throw new StoreError('invalid', 'this fallback cannot be removed and reopened')
    await this.gate.pause()
    try {
      const old = this.fallback
      await this.mirror.flush()
      await old.close()
      if (old.path !== ':memory:') for (const suffix of ['', '-wal', '-shm']) rmSync(old.path + suffix, { force: true })
      this.fallback = reopen()
      this.fallbackJournalMode = this.fallback.journalMode()
      await this.fallback.migrate()
      this.applyDurability()
    } finally {
      this.gate.resume()
    }
    // The new file is empty: warm it again so a later outage still finds the accounts.
    await this.copyToFallback().catch(() => (this.recopyWanted = true))
  }

  async conflicts(): Promise<SyncConflict[]> {
    if (this.primary && this.primaryStatus === 'up') {
      try {
        return await this.primary.listConflicts()
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
      }
    }
    return this.fallback.listConflicts()
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10

function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0]!.slice(0, 300)
}

defineOwnedRepos(FailoverStore.prototype)
