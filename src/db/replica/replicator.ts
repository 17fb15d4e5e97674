// The one replication loop (Litestream's shape): every interval, or at once when a REPLICA_SYNC write
// waits, the log entries committed since the last upload become one numbered segment, stored whole.
// Each run of the server writes a generation of its own, which starts with a base snapshot; later
// snapshots (by time, by segment count, or instead of a huge backlog) let older segments, snapshots
// and generations be deleted.
//
// Writes wait on `durable()` (sync mode): they arrive while a round runs and share the next one, so
// one upload acknowledges every write that came in meanwhile (group commit).
import { Database } from 'bun:sqlite'
import { rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { AsyncLock } from '../sqlite/async-lock.ts'
import { StoreError } from '../store.ts'
import { ChangeLog, installChangeLog } from './change-log.ts'
import { compactReplica } from './compact.ts'
import { generationDir, segmentKey } from './layout.ts'
import { listGenerations } from './restore.ts'
import { encodeSegment } from './segment-format.ts'
import { takeLocalSnapshot, uploadSnapshot } from './snapshot.ts'
import type { ReplicaTarget } from './target.ts'

export interface ReplicatorOptions {
  target: ReplicaTarget
  /** the SQLite file the store writes; the replicator reads it on a connection of its own */
  dbPath: string
  logger: Logger
  intervalMs: number
  sync: boolean
  snapshotIntervalMs: number
  snapshotEverySegments: number
  /**
   * true when the boot restore could not run over an empty disk: a replica found later holds data
   * this instance does not have, and must not be superseded by a new generation
   */
  holdIfReplicaExists?: boolean
  /** default Date.now */
  now?: () => number
}

export interface ReplicaStatus {
  configured: true
  target: string
  sync: boolean
  generation: string | null
  lag_ms: number
  last_upload_at: string | null
  last_snapshot_at: string | null
  pending_segments: number
  pending_changes: number
  last_error: string | null
}

/** entries per segment: a backlog is shipped as several segments */
const SEGMENT_MAX_ENTRIES = 5_000
/** a backlog larger than this (a snapshot copy swapped in) is shipped as a new snapshot instead */
const SNAPSHOT_INSTEAD_OVER = 50_000

interface Waiter {
  seq: number
  resolve(): void
  reject(e: StoreError): void
}

export class Replicator {
  private readonly db: Database
  private readonly log: ChangeLog
  private readonly now: () => number
  private generation: string | null = null
  /** every change with seq <= cursor is stored in the replica (once generation is set) */
  private cursor = 0
  private nextSegment = 1
  /** a segment built but not stored yet: retried with the same bytes under the same name */
  private held: { index: number; bytes: Uint8Array; last: number; count: number } | null = null
  private segmentsSinceSnapshot = 0
  private lastSnapshotMs = 0
  private lastSnapshotAt: string | null = null
  private lastUploadAt: string | null = null
  private lastError: string | null = null
  private reachable = true
  private holding: boolean
  private pending = { count: 0, oldestAt: null as number | null }
  private readonly waiters: Waiter[] = []
  private wake: (() => void) | null = null
  private loop: Promise<void> | null = null
  private closed = false
  /** one round at a time: the loop's, an admin's "sync now" and the last one at close */
  private readonly rounds = new AsyncLock()

  constructor(private readonly opts: ReplicatorOptions) {
    this.now = opts.now ?? Date.now
    this.holding = opts.holdIfReplicaExists ?? false
    this.db = new Database(opts.dbPath, { readwrite: true })
    // Never wait for the store's connection: it runs on this same thread (see ChangeLog.trim).
    this.db.run('PRAGMA busy_timeout = 0')
    this.log = new ChangeLog(this.db)
  }

  /**
   * Creates the log and its triggers (now: a failure throws), then ships in the background. The
   * returned promise settles after the first round (the base snapshot, or its failure); it never rejects.
   */
  start(): Promise<void> {
    installChangeLog(this.db)
    const first = this.round()
    this.loop = first.then(() => this.run())
    return first
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      // A sync write that arrived during the round it could not join goes at once, not an interval later.
      const more = this.reachable && this.waiters.some((w) => w.seq > this.cursor)
      if (!more) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.intervalMs)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = null
      if (this.closed) break
      await this.round()
    }
  }

  /**
   * For REPLICA_SYNC: resolves once every change committed before the call is stored in the replica;
   * rejects 'unavailable' when the replica cannot take it (the change stays local and ships later).
   */
  durable(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('unavailable', 'the replica is closed'))
    if (!this.accepting) return Promise.reject(this.unavailable())
    const seq = this.log.highWater()
    if (this.generation !== null && seq <= this.cursor) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject })
      this.wake?.()
    })
  }

  /**
   * false while the last attempt to reach the replica failed, or while it must not be written over
   * (holdIfReplicaExists): sync writes are refused up front
   */
  get accepting(): boolean {
    return this.reachable && !this.holding && !this.closed
  }

  private unavailable(): StoreError {
    return new StoreError('unavailable', `the replica cannot store writes now (${this.lastError ?? 'unreachable'}); REPLICA_SYNC=true acknowledges none it does not hold`)
  }

  /** one pass: ship what is pending, snapshot when due; never throws */
  round(): Promise<void> {
    return this.rounds.run(() => this.roundNow())
  }

  private async roundNow(): Promise<void> {
    try {
      if (this.holding && !(await this.mayWrite())) return
      if (this.generation === null) await this.beginGeneration()
      else await this.ship()
      if (!this.reachable) this.logger.info({ event: 'replica_reachable', target: this.opts.target.description }, 'the replica is reachable again')
      this.reachable = true
      this.lastError = null
    } catch (e) {
      const message = oneLine(e)
      if (this.reachable || message !== this.lastError)
        this.logger.warn({ event: 'replica_unreachable', target: this.opts.target.description, reason: message }, 'the replica cannot be written: changes wait on local disk and the lag grows')
      this.reachable = false
      this.lastError = message
    } finally {
      this.settleWaiters()
      this.refreshPending()
    }
  }

  private get logger(): Logger {
    return this.opts.logger
  }

  /** see holdIfReplicaExists */
  private async mayWrite(): Promise<boolean> {
    const gens = await listGenerations(this.opts.target)
    if (gens.length === 0) {
      this.holding = false
      return true
    }
    const message = `the replica holds generation ${gens[0]} that this instance did not restore (it was unreachable at boot); not replicating over it: restart to restore it, or stop the server and run bun run db replica restore --force`
    if (this.lastError !== message) this.logger.error({ event: 'replica_not_restored', target: this.opts.target.description, generation: gens[0] }, message)
    this.lastError = message
    this.reachable = true
    return false
  }

  private async beginGeneration(): Promise<void> {
    const generation = Bun.randomUUIDv7()
    await this.snapshot(generation, 1)
    this.generation = generation
    this.logger.info({ event: 'replica_generation', generation, target: this.opts.target.description, through: this.cursor }, 'replica: new generation, base snapshot stored')
  }

  private async ship(): Promise<void> {
    const gen = this.generation!
    if (this.held) await this.storeHeld(gen)
    if (this.log.pendingAfter(this.cursor).count > SNAPSHOT_INSTEAD_OVER) {
      await this.snapshot(gen, this.nextSegment)
      return
    }
    let shipped = false
    for (;;) {
      // Taken before the read: every change committed before createdAt is in this segment or an earlier one.
      const createdAt = new Date(this.now()).toISOString()
      const entries = this.log.after(this.cursor, SEGMENT_MAX_ENTRIES)
      if (entries.length === 0) break
      const index = this.nextSegment
      this.held = { index, bytes: encodeSegment({ generation: gen, index, after: this.cursor, createdAt }, entries), last: entries.at(-1)!.seq, count: entries.length }
      this.nextSegment++
      await this.storeHeld(gen)
      shipped = true
      // Waiters covered so far need not wait for the rest of a backlog.
      this.settleWaiters()
    }
    if (!shipped && !this.reachable) await this.opts.target.list(`${generationDir(gen)}snapshots/`)
    const due = this.now() - this.lastSnapshotMs >= this.opts.snapshotIntervalMs || this.segmentsSinceSnapshot >= this.opts.snapshotEverySegments
    if (due) await this.snapshot(gen, this.nextSegment)
    if (shipped) this.log.trim(this.cursor)
  }

  private async storeHeld(gen: string): Promise<void> {
    const held = this.held!
    await this.opts.target.put(segmentKey(gen, held.index), held.bytes)
    this.held = null
    this.cursor = held.last
    this.segmentsSinceSnapshot++
    this.lastUploadAt = new Date(this.now()).toISOString()
  }

  /** a snapshot of everything committed now; later segments are numbered from nextSegment */
  private async snapshot(gen: string, nextSegment: number): Promise<void> {
    const temp = `${this.opts.dbPath}.replica-snapshot`
    try {
      const local = await takeLocalSnapshot(this.db, temp)
      const started = performance.now()
      const manifest = await uploadSnapshot(this.opts.target, gen, local, nextSegment)
      this.cursor = Math.max(this.cursor, local.through)
      this.segmentsSinceSnapshot = 0
      this.lastSnapshotMs = this.now()
      this.lastSnapshotAt = manifest.createdAt
      this.lastUploadAt = manifest.createdAt
      this.logger.info(
        { event: 'replica_snapshot', generation: gen, through: local.through, bytes: local.size, upload_ms: Math.round(performance.now() - started) },
        'replica snapshot stored',
      )
    } finally {
      rmSync(temp, { force: true })
    }
    this.log.trim(this.cursor)
    await compactReplica(this.opts.target, this.logger, { generation: gen, through: this.cursor, nextSegment }).catch((e) =>
      this.logger.warn({ event: 'replica_compact_failed', reason: oneLine(e) }, 'deleting replica files older than the snapshot failed; retried after the next one'),
    )
  }

  private settleWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!
      if (this.generation !== null && w.seq <= this.cursor) w.resolve()
      else if (!this.accepting) w.reject(this.unavailable())
      else continue
      this.waiters.splice(i, 1)
    }
  }

  private refreshPending(): void {
    try {
      if (!this.closed) this.pending = this.log.pendingAfter(this.shippedThrough)
    } catch {
      // the file is being replaced (cleanup) or closed: the last numbers stand
    }
  }

  /** before the base snapshot nothing is shipped */
  private get shippedThrough(): number {
    return this.generation === null ? 0 : this.cursor
  }

  /**
   * Two point lookups on the log (its high-water mark and its first unshipped entry), so the lag is
   * the age of the oldest change the replica lacks now, not at the last round.
   */
  status(): ReplicaStatus {
    let pending = this.pending
    if (!this.closed) {
      try {
        const waiting = Math.max(0, this.log.highWater() - this.shippedThrough)
        pending = { count: waiting, oldestAt: waiting > 0 ? this.log.oldestAfter(this.shippedThrough) : null }
      } catch {
        // closed or being replaced: the numbers of the last round stand
      }
    }
    // the held segment's changes are the first of the pending ones
    const unbuilt = Math.max(0, pending.count - (this.held?.count ?? 0))
    return {
      configured: true,
      target: this.opts.target.description,
      sync: this.opts.sync,
      generation: this.generation,
      lag_ms: pending.oldestAt === null ? 0 : Math.max(0, this.now() - pending.oldestAt),
      last_upload_at: this.lastUploadAt,
      last_snapshot_at: this.lastSnapshotAt,
      pending_segments: (this.held ? 1 : 0) + Math.ceil(unbuilt / SEGMENT_MAX_ENTRIES),
      pending_changes: pending.count,
      last_error: this.lastError,
    }
  }

  /** ships now (admin "sync now"), then reports */
  async syncNow(): Promise<ReplicaStatus> {
    await this.round()
    return this.status()
  }

  /** a new snapshot now (admin), then reports */
  async snapshotNow(): Promise<ReplicaStatus> {
    this.lastSnapshotMs = Number.NEGATIVE_INFINITY
    await this.round()
    return this.status()
  }

  /** one last round so that a clean stop leaves nothing behind, then stops */
  async close(): Promise<void> {
    if (this.closed) return
    // Not when the replica is known unreachable: the stop must not wait out an upload deadline.
    if (this.reachable && !this.holding) await this.round()
    this.closed = true
    this.wake?.()
    await this.loop
    this.settleWaiters()
    this.db.close()
  }
}

function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e)
  return message.split('\n')[0]!.slice(0, 300)
}
