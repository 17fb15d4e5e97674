// What the HTTP layer may ask of the database layer beyond `Store`: its state, and the manual
// controls of the fallback admin API and CLI. Implemented by FailoverStore.
import type { HistorySnapshot } from './history.ts'
import type { Store, StoreKind } from './store.ts'

export type Mode = 'primary' | 'fallback' | 'recovering'

export interface ProbeResult {
  ok: boolean
  latency_ms: number
  error?: string
}

export interface RuntimeStatus {
  mode: Mode
  /** the database answering requests now */
  activeKind: StoreKind
  fallbackActive: boolean
  primary: {
    configured: boolean
    status: 'up' | 'down' | 'unconfigured'
    /** redacted, one line */
    lastError: string | null
    lastProbeAt: string | null
    /** primary mode, and no database-bound request for DATABASE_IDLE_AFTER: PostgreSQL is sent nothing */
    idle: boolean
    /** when PostgreSQL last answered */
    checkedAt: string | null
    /** what the pool learnt about a pooler in front of PostgreSQL, in words */
    pooler: readonly string[]
  }
  fallback: {
    ok: boolean
    /** file path, or ':memory:' */
    path: string
    /** false when the file could not be opened and an in-memory database stands in */
    persistent: boolean
    journalMode: string
  }
  outboxPending: number
  /** true after an admin switched to fallback: stays there until switched back */
  pinnedToFallback: boolean
  lastFailoverAt: string | null
  lastRecoveryAt: string | null
}

export interface SyncConflict {
  id: string
  at: string
  table: string
  rowId: string
  reason: string
  row: Record<string, unknown>
}

export interface DatabaseRuntime {
  /** the store requests use: it routes to whichever database is active */
  readonly store: Store
  status(): RuntimeStatus
  /** the last 24 h of mode changes and probe latencies, from memory (the status page draws it) */
  history(): HistorySnapshot
  /** does the active store answer now? */
  ready(): Promise<boolean>
  test(): Promise<{ primary: ProbeResult | null; fallback: ProbeResult }>
  switchToFallback(): Promise<Mode>
  /** replays the outbox first; throws StoreError('unavailable') when the primary is down */
  switchToPrimary(): Promise<Mode>
  /** replaces the fallback's rows with a snapshot of PostgreSQL (POST .../migrate-from-primary) */
  copyToFallback(): Promise<{ tables: Record<string, number>; duration_ms: number }>
  /** replays the outbox into PostgreSQL now, whatever the mode (POST .../sync-to-primary) */
  replay(): Promise<{ applied: number; conflicts: number; remaining: number }>
  backup(): Promise<{ file: string; size_bytes: number; created_at: string }>
  /** throws StoreError('conflict') while the file is active or holds un-replayed writes */
  cleanup(): Promise<void>
  conflicts(): Promise<SyncConflict[]>
  close(): Promise<void>
}
