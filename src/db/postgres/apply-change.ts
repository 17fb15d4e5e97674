// The last-writer-wins upsert of one replicated row, as one statement: the table's merge rule
// (merge-sql.ts, the same text SQLite runs). It returns one row when the change was applied and none
// when it was stale; a clash on another unique key (email, token hash) or a missing parent row fails
// with 23505/23503.
import type postgres from 'postgres'
import { CODECS, type Codec } from '../codec.ts'
import { mergeClause } from '../merge-sql.ts'
import { SYNC_TABLES, type RowChange, type SyncTable } from '../store.ts'
import type { QuerySql } from './pool.ts'

type Applied = postgres.PendingQuery<{ applied: number }[]>

const MERGE = Object.fromEntries(SYNC_TABLES.map((t) => [t, `${mergeClause(CODECS[t].table)} RETURNING 1 AS applied`])) as Record<SyncTable, string>

export function upsertChange(sql: QuerySql, change: RowChange): Applied {
  const codec = CODECS[change.table] as Codec<RowChange['row']>
  return sql`insert into ${sql(change.table)} ${sql(codec.toPostgres(change.row))} ${sql.unsafe(MERGE[change.table])}`
}
