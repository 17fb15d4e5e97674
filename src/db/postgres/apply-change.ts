// The last-writer-wins upsert of one replicated row, as one statement: the table's merge rule
// (merge-sql.ts, the same text SQLite runs). It returns one row when the change was applied and none
// when it was stale; a clash on another unique key (email, token hash) or a missing parent row fails
// with 23505/23503.
import type postgres from 'postgres'
import type { TableRow } from '../store.ts'
import type { SyncTables } from '../sync-tables.ts'
import type { QuerySql } from './pool.ts'

type Applied = postgres.PendingQuery<{ applied: number }[]>

export type Upsert = (sql: QuerySql, change: TableRow) => Applied

/** The upsert of the store's tables, each table's statement tail made once. */
export function upsertOf(tables: SyncTables): Upsert {
  const prepared = tables.prepare(({ codec, mergeClause }) => ({ codec, tail: `${mergeClause} RETURNING 1 AS applied` }))
  return (sql, change) => {
    const { codec, tail } = prepared(change.table)
    return sql`insert into ${sql(change.table)} ${sql(codec.toPostgres(change.row))} ${sql.unsafe(tail)}`
  }
}
