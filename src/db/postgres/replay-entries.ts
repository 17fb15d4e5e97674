// The replay's PostgreSQL side: outbox entries applied inside one transaction with an exactly-once effect.
//
// Speed: entries are sent in segments whose statements postgres.js pipelines on the transaction's
// connection (one round trip per segment, not per entry), each segment under one savepoint. When a
// statement of a segment fails, the savepoint is rolled back, the clean prefix is sent again, and
// the failing entry, now first, is recorded as a conflict: a rare event costs a retry, not every
// entry a savepoint of its own.
import { newId, nowIso, type OutboxEntry, type ReplayOutcome } from '../store.ts'
import type { SyncTables } from '../sync-tables.ts'
import type { Upsert } from './apply-change.ts'
import { constraintOf, sqlState, toStoreError } from './errors.ts'
import type { PgExecutor } from './executor.ts'

/**
 * Entries per segment. postgres.js pipelines up to max_pipeline (100) queries and queues the rest
 * in JS, which measured several times slower; half of it also keeps a conflict's retry cheap.
 */
export const REPLAY_SEGMENT = 50

/** Why a replayed row could not be applied, or null when the error is not a row conflict. */
export function conflictReason(error: unknown): string | null {
  const constraint = constraintOf(error) ?? 'unknown constraint'
  switch (sqlState(error)) {
    case '23505':
      return `unique key clash (${constraint})`
    case '23503':
      return `missing parent row (${constraint})`
    default:
      return null
  }
}

type SegmentResult =
  | { ok: true; outcomes: ('applied' | 'stale')[] }
  | { ok: false; failedAt: number; error: unknown }

/** what a replay needs of the store's tables: their upsert, and the key of a row for a conflict record */
export interface ReplayTables {
  upsert: Upsert
  tables: SyncTables
}

async function trySegment(tx: PgExecutor, entries: OutboxEntry[], upsert: Upsert): Promise<SegmentResult> {
  let settled: PromiseSettledResult<{ applied: number }[]>[] = []
  try {
    await tx.savepointRaw(async (sp) => {
      settled = await Promise.allSettled(entries.map((e) => upsert(sp, e.change)))
    })
  } catch (error) {
    // after the first failure the rest of the segment fails with 25P02 (transaction aborted)
    const failedAt = settled.findIndex((r) => r.status === 'rejected' && sqlState(r.reason) !== '25P02')
    if (failedAt < 0) throw error
    return { ok: false, failedAt, error: (settled[failedAt] as PromiseRejectedResult).reason }
  }
  return { ok: true, outcomes: settled.map((r) => (r.status === 'fulfilled' && r.value.length > 0 ? 'applied' : 'stale')) }
}

async function recordConflict(tx: PgExecutor, tables: SyncTables, entry: OutboxEntry, reason: string): Promise<void> {
  await tx.runRaw((sql) => sql`
    insert into sync_conflicts ${sql({
      id: newId(),
      at: nowIso(),
      tbl: entry.change.table,
      row_id: tables.keyOf(entry.change),
      reason,
      row_json: sql.json(entry.change.row as unknown as Parameters<typeof sql.json>[0]),
    })}`)
}

/**
 * Claims the op ids first: an id another transaction has claimed (already committed, or being
 * committed right now, which makes this insert wait for it) comes back missing and is a duplicate.
 */
async function claim(tx: PgExecutor, entries: OutboxEntry[]): Promise<Set<string>> {
  const ids = entries.map((e) => e.opId.toLowerCase())
  const rows = await tx.runRaw((sql) => sql<{ op_id: string }[]>`
    insert into applied_ops (op_id, applied_at)
    select unnest(string_to_array(${ids.join(',')}, ','))::uuid, ${nowIso()}
    on conflict (op_id) do nothing
    returning op_id`)
  return new Set(rows.map((r) => r.op_id))
}

/** Runs inside the caller's transaction. */
export async function replayEntriesIn(tx: PgExecutor, entries: OutboxEntry[], { upsert, tables }: ReplayTables): Promise<ReplayOutcome[]> {
  try {
    const claimed = await claim(tx, entries)
    const outcomes: ReplayOutcome[] = entries.map(() => 'duplicate')
    // an op id twice in one batch: its first entry claims it
    const todo = entries.flatMap((e, i) => (claimed.delete(e.opId.toLowerCase()) ? [i] : []))

    let start = 0
    let end = Math.min(REPLAY_SEGMENT, todo.length)
    while (start < todo.length) {
      const result = await trySegment(tx, todo.slice(start, end).map((i) => entries[i]!), upsert)
      if (result.ok) {
        result.outcomes.forEach((o, k) => (outcomes[todo[start + k]!] = o))
        start = end
      } else if (result.failedAt > 0) {
        // the statements before the failing one were fine: send them again on their own
        end = start + result.failedAt
        continue
      } else {
        const reason = conflictReason(result.error)
        if (reason === null) throw result.error
        const i = todo[start]!
        await recordConflict(tx, tables, entries[i]!, reason)
        outcomes[i] = 'conflict'
        start += 1
      }
      end = Math.min(start + REPLAY_SEGMENT, todo.length)
    }
    return outcomes
  } catch (e) {
    throw toStoreError(e)
  }
}
