// Moving rows between the two databases: the replay of the outbox into PostgreSQL, and the copy of a
// snapshot of PostgreSQL into the fallback (copy to fallback; the admin API calls it
// migrate-from-primary). Both go by the tables the fallback was opened with (its syncTables).
import type { PostgresStore } from './postgres/postgres-store.ts'
import type { SqliteStore } from './sqlite/sqlite-store.ts'
import { newId, type TableRow } from './store.ts'
import type { SyncTables } from './sync-tables.ts'

export interface ReplayReport {
  applied: number
  conflicts: number
  /** entries PostgreSQL had already received (a replay repeated after a crash) */
  duplicates: number
  remaining: number
}

/**
 * How many outbox entries one PostgreSQL transaction takes. A batch must commit within the store's
 * deadline, and what it costs depends on the link: on a fresh connection every statement shape is
 * described first, and postgres.js then sends the rest of the transaction one round trip at a time,
 * so over a slow link (tens of ms) a full batch can outlast the deadline at every try, the pool is
 * dropped, and the next try starts cold again: a replay that never ends while probes all succeed.
 * So the batch shrinks after a replay that failed and grows back with every batch that commits.
 */
export class ReplayPace {
  batch: number

  constructor(readonly max = 500) {
    this.batch = max
  }

  committed(): void {
    this.batch = Math.min(this.max, this.batch * 2)
  }

  failed(): void {
    this.batch = Math.max(1, Math.floor(this.batch / 4))
  }
}

/**
 * Replays the outbox oldest first, a batch per PostgreSQL transaction. An entry leaves the outbox only
 * after the transaction that applied it (and recorded its op_id in applied_ops) committed, so a crash
 * at any point repeats at most the last batch, which applied_ops turns into no-ops. The caller tells
 * `pace` when the replay failed; the batches it committed have grown it already.
 */
export async function replayOutbox(
  primary: PostgresStore,
  fallback: SqliteStore,
  options: { pace?: ReplayPace; maxEntries?: number } = {},
): Promise<ReplayReport> {
  const pace = options.pace ?? new ReplayPace()
  const report: ReplayReport = { applied: 0, conflicts: 0, duplicates: 0, remaining: 0 }
  let budget = options.maxEntries ?? Infinity
  while (budget > 0) {
    const batch = fallback.outbox.peek(Math.min(pace.batch, budget))
    if (batch.length === 0) break
    const outcomes = await primary.replayEntries(batch)
    pace.committed()
    outcomes.forEach((outcome, i) => {
      const entry = batch[i]!
      if (outcome === 'conflict') {
        report.conflicts++
        fallback.recordConflict({
          id: newId(),
          at: new Date().toISOString(),
          table: entry.change.table,
          rowId: fallback.syncTables.keyOf(entry.change),
          reason: 'a unique key or parent row clashed with PostgreSQL during replay',
          row: redactRow(fallback.syncTables, entry.change),
        })
      } else if (outcome === 'duplicate') report.duplicates++
      else report.applied++
    })
    fallback.outbox.ack(batch[batch.length - 1]!.seq)
    budget -= batch.length
  }
  report.remaining = fallback.outbox.count()
  return report
}

/**
 * Replaces the fallback's rows with PostgreSQL's, atomically on the SQLite side. Page by page: only
 * one page of rows is in memory at a time, whatever the size of the database. Every table of the
 * fallback is copied, since the swap replaces every one of them.
 */
export async function copyToFallback(
  primary: PostgresStore,
  fallback: SqliteStore,
  pageSize = 2000,
): Promise<{ tables: Record<string, number> }> {
  const tables: Record<string, number> = {}
  const { syncTables } = fallback
  const snapshot = fallback.beginSnapshot()
  try {
    for (const table of syncTables.names) {
      let after: string | null = null
      let count = 0
      for (;;) {
        const page: TableRow[] = await primary.exportRows(table, after, pageSize)
        snapshot.stage(page)
        count += page.length
        if (page.length < pageSize) break
        after = syncTables.keyOf(page[page.length - 1]!)
      }
      tables[table] = count
    }
    snapshot.finish()
  } catch (e) {
    snapshot.abort()
    throw e
  }
  return { tables }
}

/** Conflict records are read by admins: keep the secret columns (tables.ts) out of them. */
function redactRow(tables: SyncTables, change: TableRow): Record<string, unknown> {
  const row: Record<string, unknown> = { ...change.row }
  for (const secret of tables.of(change.table).codec.secretFields) row[secret] = '***'
  return row
}
