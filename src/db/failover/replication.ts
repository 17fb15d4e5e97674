// Rows moved between the two databases while the server runs: the mirror of every row PostgreSQL
// commits, the copy of PostgreSQL into the fallback, the outbox replay into PostgreSQL; and the
// fallback file's chores (backup, cleanup).
import { rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { backupFallback } from '../backup.ts'
import { Mirror } from '../mirror.ts'
import type { PostgresStore } from '../postgres/postgres-store.ts'
import type { SqliteStore } from '../sqlite/sqlite-store.ts'
import { isStoreError, StoreError, type TableRow } from '../store.ts'
import * as sync from '../sync.ts'
import type { WriteGate } from '../write-gate.ts'
import { errorLine } from './error-line.ts'

export interface ReplicationParts {
  primary: PostgresStore | null
  fallback: SqliteStore
  /** opens a new, empty fallback file where the old one was (cleanup); absent: cleanup refuses */
  reopenFallback?: () => SqliteStore
  gate: WriteGate
  log: Logger
  backup: { dir: string; keep: number }
  /** gives a newly opened fallback file the durability of the mode */
  applyDurability(): void
}

export class Replication {
  private current: SqliteStore
  /** read once per file: /health must not query SQLite */
  private currentJournalMode: string
  private readonly mirror: Mirror
  /** rows mirrored while a copy runs, else null: they may be newer than the copy, which re-applies them */
  private copying: TableRow[] | null = null
  private recopyWanted = false
  private readonly pace = new sync.ReplayPace()

  constructor(private readonly parts: ReplicationParts) {
    // rows move between the two by table name: a table only one side knows could never be replayed or copied
    const [primaryTables, fallbackTables] = [parts.primary?.syncTables.names.join(', '), parts.fallback.syncTables.names.join(', ')]
    if (primaryTables !== undefined && primaryTables !== fallbackTables)
      throw new Error(`PostgreSQL and SQLite must be opened with the same tables (${primaryTables}; ${fallbackTables})`)
    this.current = parts.fallback
    this.currentJournalMode = parts.fallback.journalMode()
    this.mirror = new Mirror({
      apply: (changes) => this.current.applyMirrored(changes),
      failed: (err) => {
        // A mirror that missed a row is no longer a faithful copy: copy it whole again.
        parts.log.warn({ event: 'mirror_failed', reason: errorLine(err) }, 'mirroring a write into SQLite failed; a full re-copy is scheduled')
        this.recopyWanted = true
      },
    })
  }

  /** the fallback in use */
  get fallback(): SqliteStore {
    return this.current
  }

  get fallbackJournalMode(): string {
    return this.currentJournalMode
  }

  /** rows a write committed on PostgreSQL: on their way into SQLite */
  committed(changes: TableRow[]): void {
    this.copying?.push(...changes)
    this.mirror.add(changes)
  }

  /** resolves once every row PostgreSQL committed so far is in SQLite (see Mirror) */
  flushMirror(): Promise<void> {
    return this.mirror.flush()
  }

  /** After a failed mirror write or copy: the copy again, not waited for, unless one runs already. */
  copyAgainIfWanted(): void {
    if (this.recopyWanted && !this.copying) void this.copyToFallback().catch(() => undefined)
  }

  /** The copy after a recovery: not waited for, so the monitor goes on probing while it reads all of PostgreSQL. */
  copyInBackground(): void {
    void this.copyToFallback().catch((err) => {
      this.recopyWanted = true
      this.parts.log.warn({ event: 'copy_failed', reason: errorLine(err) }, 'copying PostgreSQL into SQLite failed; will retry')
    })
  }

  async copyToFallback(): Promise<{ tables: Record<string, number>; duration_ms: number }> {
    const primary = this.requirePrimary()
    if (this.copying) throw new StoreError('conflict', 'a copy of PostgreSQL into the fallback is already running')
    if (this.current.outbox.count() > 0)
      throw new StoreError('conflict', 'the fallback holds writes PostgreSQL has not received yet; sync them to the primary first')
    const started = performance.now()
    // Rows mirrored while the snapshot is taken may be newer than the snapshot: re-apply them after.
    this.copying = []
    try {
      const { tables } = await sync.copyToFallback(primary, this.current)
      await this.current.applyMirrored(this.copying)
      this.recopyWanted = false
      return { tables, duration_ms: Math.round(performance.now() - started) }
    } finally {
      this.copying = null
    }
  }

  /** the outbox into PostgreSQL (at most `maxEntries`), at a pace that adapts to what commits */
  async replay(maxEntries?: number): Promise<sync.ReplayReport> {
    const primary = this.requirePrimary()
    try {
      return await sync.replayOutbox(primary, this.current, { pace: this.pace, maxEntries })
    } catch (err) {
      if (isStoreError(err, 'unavailable')) this.pace.failed()
      throw err
    }
  }

  async backup(): Promise<{ file: string; size_bytes: number; created_at: string }> {
    await this.mirror.flush()
    return backupFallback(this.current, this.parts.backup.dir, this.parts.backup.keep)
  }

  /** Removes the fallback file and opens an empty one in its place, warmed by a copy. */
  async cleanup(): Promise<void> {
    const { gate, reopenFallback } = this.parts
    if (this.current.outbox.count() > 0) throw new StoreError('conflict', 'the fallback holds writes PostgreSQL has not received; sync them first')
    if (!reopenFallback) throw new StoreError('invalid', 'this fallback cannot be removed and reopened')
    await gate.pause()
    try {
      const old = this.current
      await this.mirror.flush()
      await old.close()
      if (old.path !== ':memory:') for (const suffix of ['', '-wal', '-shm']) rmSync(old.path + suffix, { force: true })
      this.current = reopenFallback()
      this.currentJournalMode = this.current.journalMode()
      await this.current.migrate()
      this.parts.applyDurability()
    } finally {
      gate.resume()
    }
    // The new file is empty: warm it again so a later outage still finds the accounts.
    await this.copyToFallback().catch(() => (this.recopyWanted = true))
  }

  private requirePrimary(): PostgresStore {
    if (!this.parts.primary) throw new StoreError('unavailable', 'no usable primary database is configured')
    return this.parts.primary
  }
}
