// The coordinator: one Store that answers from PostgreSQL while it can and from SQLite while it
// cannot, records what SQLite accepts in the outbox, and replays it into PostgreSQL when PostgreSQL
// is back.
//
//   primary     reads and writes on PostgreSQL; every committed row is mirrored into SQLite
//   fallback    reads and writes on SQLite; every written row also goes to the outbox, in the same
//               SQLite transaction
//   recovering  as fallback, while the outbox is replayed; a short write pause flips to primary
//
// This file wires the parts (src/db/failover/) and answers as Store and as DatabaseRuntime:
//   router        every store call: read/write routing, the write gate, reconnect after a nap
//   modes         primary/fallback/recovering, failover, recovery, the fallback's durability
//   monitor       probes, the watch over stuck calls, idleness
//   replication   mirror, copy to the fallback, replay of the outbox, backup, cleanup
import type { Logger } from 'pino'
import { InFlightCalls } from './failover/in-flight.ts'
import { errorLine } from './failover/error-line.ts'
import { ModeMachine } from './failover/modes.ts'
import { PrimaryMonitor } from './failover/monitor.ts'
import { PrimaryHealth } from './failover/primary-health.ts'
import { Replication } from './failover/replication.ts'
import { routedOwnedRepo, ROUTED_REPOS, type StoreRoute } from './failover/routed-repo.ts'
import { StoreRouter } from './failover/router.ts'
import { RuntimeHistory, type HistorySnapshot } from './history.ts'
import type { OpenedStores } from './open.ts'
import { defineOwnedRepos, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from './owned.ts'
import type { DatabaseRuntime, Mode, ProbeResult, RuntimeStatus, SyncConflict } from './runtime.ts'
import {
  isStoreError,
  StoreError,
  type AuditRepo,
  type Caller,
  type MigrationReport,
  type RepoName,
  type SessionRepo,
  type SettingsRepo,
  type Store,
  type StoreKind,
  type UserRepo,
} from './store.ts'
import { ViewRepos } from './view-repos.ts'
import { WriteGate } from './write-gate.ts'

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

const DEFAULT_IDLE_AFTER_MS = 60_000
const DEFAULT_PROBE_TIMEOUT_MS = 1000

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface FailoverStore extends OwnedRepos {}

export class FailoverStore implements Store, DatabaseRuntime {
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo

  private readonly recorded: RuntimeHistory
  private readonly health: PrimaryHealth
  private readonly replication: Replication
  private readonly modes: ModeMachine
  private readonly monitor: PrimaryMonitor
  private readonly router: StoreRouter
  private readonly probeTimeoutMs: number

  constructor(private readonly opts: FailoverStoreOptions) {
    const { primary, logger: log } = opts
    const idleAfterMs = opts.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS
    this.probeTimeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
    const history = (this.recorded = opts.history ?? new RuntimeHistory())
    const status = !opts.primaryConfigured ? 'unconfigured' : opts.primaryUp && primary ? 'up' : 'down'
    const health = (this.health = new PrimaryHealth({ status, lastError: opts.primaryError }, idleAfterMs))
    const gate = new WriteGate()
    const inFlight = new InFlightCalls()
    const replication = (this.replication = new Replication({
      primary,
      fallback: opts.fallback,
      reopenFallback: opts.reopenFallback,
      gate,
      log,
      backup: opts.backup,
      applyDurability: () => modes.applyDurability(),
    }))
    const modes = (this.modes = new ModeMachine(
      {
        primary,
        primaryConfigured: opts.primaryConfigured,
        health,
        inFlight,
        gate,
        replication,
        history,
        log,
        audit: (event) => this.audit.append(event),
        afterRecovery: opts.afterRecovery,
      },
      status === 'up' ? 'primary' : 'fallback',
    ))
    const monitor = (this.monitor = new PrimaryMonitor({
      primary,
      health,
      modes,
      inFlight,
      replication,
      history,
      probeIntervalMs: opts.probeIntervalMs,
      probeTimeoutMs: this.probeTimeoutMs,
      idleAfterMs,
      autoFailback: opts.autoFailback,
    }))
    this.router = new StoreRouter({
      primary,
      fallback: () => replication.fallback,
      modes,
      health,
      inFlight,
      gate,
      committed: (changes) => replication.committed(changes),
      touch: () => monitor.touch(),
      callStarted: () => monitor.watchCalls(),
    })
    const route = this.router.route
    this.users = ROUTED_REPOS.users(route)
    this.sessions = ROUTED_REPOS.sessions(route)
    this.audit = ROUTED_REPOS.audit(route)
    this.settings = ROUTED_REPOS.settings(route)
  }

  get kind(): StoreKind {
    return this.modes.mode === 'primary' ? 'postgresql' : 'sqlite'
  }

  get store(): Store {
    return this
  }

  /** Migrates both databases, replays a left-over outbox, warms the fallback, settles the mode. */
  async init(): Promise<void> {
    const { primary } = this.opts
    await this.replication.fallback.migrate()
    if (this.modes.mode === 'primary' && primary) {
      try {
        await primary.migrate()
        if (this.replication.fallback.outbox.count() > 0) {
          const report = await this.replication.replay()
          this.opts.logger.info({ event: 'replay', ...report }, 'replayed writes left from an earlier outage into PostgreSQL')
        }
        await this.replication.copyToFallback()
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
        this.modes.enterFallback(err.message, 'boot')
      }
    }
    this.modes.applyDurability()
  }

  startMonitor(): void {
    this.monitor.start()
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return routedOwnedRepo(table, this.router.route)
  }

  /** This store acting for `caller` (Store.as): routed as any call, checked by whichever store serves it. */
  as(caller: Caller): Store {
    return new CallerView(this, this.router, caller)
  }

  /** resolves once every row PostgreSQL committed so far is in SQLite (see Mirror) */
  mirrored(): Promise<void> {
    return this.replication.flushMirror()
  }

  // ---- Store ----

  async ping(): Promise<void> {
    await this.router.read((s) => s.ping())
  }

  async migrate(): Promise<MigrationReport> {
    const report = await this.replication.fallback.migrate()
    if (this.modes.mode === 'primary' && this.opts.primary) return this.opts.primary.migrate()
    return report
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.router.write((s) => s.transaction(fn))
  }

  async close(): Promise<void> {
    this.monitor.stop()
    await this.modes.settled()
    await this.replication.flushMirror()
    await this.opts.primary?.close().catch(() => undefined)
    const fallback = this.replication.fallback
    try {
      fallback.checkpoint()
    } catch {
      // an in-memory or already-closed database has nothing to checkpoint
    }
    await fallback.close()
  }

  // ---- DatabaseRuntime ----

  status(): RuntimeStatus {
    const { health, modes, replication } = this
    return {
      mode: modes.mode,
      activeKind: this.kind,
      fallbackActive: modes.mode !== 'primary',
      primary: {
        configured: this.opts.primaryConfigured,
        status: health.status,
        lastError: health.status === 'up' ? null : health.lastError,
        lastProbeAt: health.lastProbeAt,
        idle: this.monitor.isIdle(),
        checkedAt: health.checkedAt(),
        pooler: this.opts.primary?.poolerNotes() ?? [],
      },
      fallback: {
        ok: true,
        path: replication.fallback.path,
        persistent: this.opts.fallbackPersistent,
        journalMode: replication.fallbackJournalMode,
      },
      outboxPending: modes.outboxPending(),
      pinnedToFallback: modes.pinned,
      lastFailoverAt: modes.lastFailoverAt,
      lastRecoveryAt: modes.lastRecoveryAt,
    }
  }

  history(): HistorySnapshot {
    return this.recorded.snapshot()
  }

  /** the active store answers; not activity, and no I/O while the primary is idle */
  async ready(): Promise<boolean> {
    try {
      if (!this.monitor.isIdle()) await this.router.read((s) => s.ping(), false)
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
    const { primary } = this.opts
    return {
      primary: primary ? await timed(() => primary.ping(this.probeTimeoutMs)) : null,
      fallback: await timed(() => this.replication.fallback.ping()),
    }
  }

  async switchToFallback(): Promise<Mode> {
    this.modes.pinToFallback()
    return this.modes.mode
  }

  async switchToPrimary(): Promise<Mode> {
    const { primary } = this.opts
    if (!primary) throw new StoreError('unavailable', 'no usable primary database is configured')
    await primary.ping(this.probeTimeoutMs)
    this.modes.unpin()
    this.health.status = 'up'
    await this.modes.recover()
    return this.modes.mode
  }

  copyToFallback(): Promise<{ tables: Record<string, number>; duration_ms: number }> {
    return this.replication.copyToFallback()
  }

  async replay(): Promise<{ applied: number; conflicts: number; remaining: number }> {
    const { applied, conflicts, remaining } = await this.replication.replay()
    this.modes.applyDurability()
    return { applied, conflicts, remaining }
  }

  backup(): Promise<{ file: string; size_bytes: number; created_at: string }> {
    return this.replication.backup()
  }

  async cleanup(): Promise<void> {
    if (this.modes.mode !== 'primary') throw new StoreError('conflict', 'the fallback is serving requests; switch to the primary first')
    await this.replication.cleanup()
  }

  async conflicts(): Promise<SyncConflict[]> {
    const { primary } = this.opts
    if (primary && this.health.status === 'up') {
      try {
        return await primary.listConflicts()
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
      }
    }
    return this.replication.fallback.listConflicts()
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10

defineOwnedRepos(FailoverStore.prototype)

/**
 * A FailoverStore acting for one caller (Store.as), made for every request: each call is routed as
 * the store's own are, to that store's view for the caller.
 */
class CallerView extends ViewRepos implements Store {
  private readonly route: StoreRoute

  constructor(
    private readonly store: FailoverStore,
    private readonly router: StoreRouter,
    private readonly caller: Caller,
  ) {
    super()
    this.route = (kind, run) => router.route(kind, (s) => run(s.as(caller)))
  }

  get kind(): StoreKind {
    return this.store.kind
  }

  protected makeRepo<N extends RepoName>(name: N): Store[N] {
    return ROUTED_REPOS[name](this.route)
  }

  protected makeOwned<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return routedOwnedRepo(table, this.route)
  }

  ping(): Promise<void> {
    return this.store.ping()
  }

  migrate(): Promise<MigrationReport> {
    return this.store.migrate()
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.router.write((s) => s.as(this.caller).transaction(fn))
  }

  as(other: Caller): Store {
    return this.store.as(other)
  }

  close(): Promise<void> {
    return this.store.close()
  }
}
