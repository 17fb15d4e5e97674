// What the failover layer asks of SQLite beyond Store: last-writer-wins upserts, ordered export and
// the snapshot swap, each made from the table definitions.
import { changeFromSqlite, changeToSqlite, CODECS } from '../codec.ts'
import { incomingWinsSql, mergeClause } from '../merge-sql.ts'
import { SYNC_TABLES, type ApplyOutcome, type RowChange, type SyncTable } from '../store.ts'
import type { Emit, SqliteConnection } from './connection.ts'
import { isRefusedRow, isUniqueViolation } from './errors.ts'

/** per table, built once: the mirror applies every row PostgreSQL commits through these */
const bySyncTable = (sql: (table: SyncTable) => string) =>
  Object.fromEntries(SYNC_TABLES.map((table) => [table, sql(table)])) as Record<SyncTable, string>

const columnList = (table: SyncTable) => CODECS[table].columns.join(', ')
const MERGE = bySyncTable((table) => `${CODECS[table].insertSql()} ${mergeClause(CODECS[table].table)}`)
// Whether the stored row beats the incoming one under the same rule, the incoming row as `excluded`.
const STORED_WINS = bySyncTable((table) => {
  const { key, columns } = CODECS[table]
  const wins = incomingWinsSql(CODECS[table].table)
  const excluded = `(SELECT ${columns.map((c) => `$${c} AS ${c}`).join(', ')}) AS excluded`
  return `SELECT 1 FROM ${table} JOIN ${excluded} ON ${table}.${key} = excluded.${key}${wins === null ? '' : ` WHERE NOT (${wins})`}`
})
// derived columns (notes.search_text) are not read: the row they are made from remakes them
const EXPORT_FIRST = bySyncTable((table) => {
  const { key, readColumns } = CODECS[table]
  return `SELECT ${readColumns.join(', ')} FROM ${table} ORDER BY ${key} LIMIT $n`
})
const EXPORT_AFTER = bySyncTable((table) => {
  const { key, readColumns } = CODECS[table]
  return `SELECT ${readColumns.join(', ')} FROM ${table} WHERE ${key} > $after ORDER BY ${key} LIMIT $n`
})

/** runs inside the caller's write transaction; emits the row when it was written */
export function applyChangeNow(conn: SqliteConnection, change: RowChange, emit: Emit): ApplyOutcome {
  let changes: number
  try {
    changes = conn.stmt(MERGE[change.table]).run(changeToSqlite(change)).changes
  } catch (e) {
    // A failed statement changes nothing, so the transaction around it commits nothing either.
    if (isUniqueViolation(e)) return 'conflict'
    // SQLite checks the incoming row against the table before it finds the stored one: a row the
    // table refuses (an invalid version, say) is still only stale when the stored row wins anyway.
    if (isRefusedRow(e) && conn.stmt(STORED_WINS[change.table]).get(changeToSqlite(change))) return 'stale'
    throw e
  }
  if (changes === 0) return 'stale'
  emit(change)
  return 'applied'
}

export function exportRowsNow(conn: SqliteConnection, table: SyncTable, afterKey: string | null, limit: number): RowChange[] {
  const rows =
    afterKey === null
      ? conn.stmt<object>(EXPORT_FIRST[table]).all({ n: limit })
      : conn.stmt<object>(EXPORT_AFTER[table]).all({ after: afterKey, n: limit })
  return rows.map((row) => changeFromSqlite(table, row))
}

// A snapshot of PostgreSQL is staged in TEMP tables shaped like the live ones (this connection's
// own, kept in a temporary file, never in the database file), page by page, then swapped in by one
// transaction: replaced whole or not at all, without ever holding every row in memory.
const staged = (table: SyncTable) => `temp.snapshot_${table}`

export function beginSnapshotNow(conn: SqliteConnection): void {
  dropSnapshotNow(conn)
  for (const table of SYNC_TABLES) conn.db.run(`CREATE TEMP TABLE snapshot_${table} AS SELECT ${columnList(table)} FROM main.${table} WHERE 0`)
}

export function stageSnapshotNow(conn: SqliteConnection, changes: RowChange[]): void {
  for (const table of SYNC_TABLES) {
    const rows = changes.filter((c) => c.table === table)
    if (rows.length === 0) continue
    // not conn.stmt: a cached statement would outlive the staging table it names
    const insert = conn.db.prepare(CODECS[table].insertSql(staged(table)))
    try {
      for (const c of rows) insert.run(changeToSqlite(c))
    } finally {
      insert.finalize()
    }
  }
}

/** deletes children before parents and inserts parents before children, for the foreign keys */
export function swapInSnapshotNow(conn: SqliteConnection): void {
  for (const table of [...SYNC_TABLES].reverse()) conn.stmt(`DELETE FROM ${table}`).run()
  for (const table of SYNC_TABLES) conn.db.run(`INSERT INTO main.${table} (${columnList(table)}) SELECT ${columnList(table)} FROM ${staged(table)}`)
}

export function dropSnapshotNow(conn: SqliteConnection): void {
  for (const table of SYNC_TABLES) conn.db.run(`DROP TABLE IF EXISTS ${staged(table)}`)
}
