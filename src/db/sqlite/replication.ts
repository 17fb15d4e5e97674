// What the failover layer asks of SQLite beyond Store: last-writer-wins upserts, ordered export and
// the snapshot swap.
import { changeFromSqlite, changeKey, changeToSqlite, CODECS } from '../codec.ts'
import { SYNC_TABLES, type ApplyOutcome, type RowChange, type SyncTable } from '../store.ts'
import type { Emit, SqliteConnection } from './connection.ts'
import { isUniqueViolation } from './errors.ts'

interface Versioned {
  version: number
  updatedAt: string
}

/** sessions: revocation plays the part of deletion */
function tombstone(change: RowChange): string | null {
  switch (change.table) {
    case 'users':
    case 'notes':
      return change.row.deletedAt
    case 'sessions':
      return change.row.revokedAt
    default:
      return null
  }
}

/**
 * The brief's LWW rule: a deleted row is never brought back, a delete beats a live row, otherwise
 * the higher version wins and on equal versions the later updatedAt.
 */
export function incomingWins(stored: RowChange, incoming: RowChange): boolean {
  const storedGone = tombstone(stored) !== null
  const incomingGone = tombstone(incoming) !== null
  if (storedGone !== incomingGone) return incomingGone
  const s = stored.row as Versioned
  const i = incoming.row as Versioned
  if (i.version !== s.version) return i.version > s.version
  return i.updatedAt > s.updatedAt
}

/** per table, built once: the mirror applies every row PostgreSQL commits through these */
const bySyncTable = (sql: (table: SyncTable) => string) =>
  Object.fromEntries(SYNC_TABLES.map((table) => [table, sql(table)])) as Record<SyncTable, string>

const SELECT_BY_KEY = bySyncTable((table) => `SELECT * FROM ${table} WHERE ${CODECS[table].key} = $key`)
const UPSERT_SQL = bySyncTable((table) => {
  const { key, columns } = CODECS[table]
  const set = columns.filter((c) => c !== key).map((c) => `${c} = excluded.${c}`)
  return `${CODECS[table].insertSql()} ON CONFLICT (${key}) DO UPDATE SET ${set.join(', ')}`
})
const INSERT_AUDIT_IF_NEW = `${CODECS.audit.insertSql()} ON CONFLICT (id) DO NOTHING`

/** runs inside the caller's write transaction; emits the row when it was written */
export function applyChangeNow(conn: SqliteConnection, change: RowChange, emit: Emit): ApplyOutcome {
  const { table } = change
  if (table === 'audit') {
    const { changes } = conn.stmt(INSERT_AUDIT_IF_NEW).run(changeToSqlite(change))
    if (changes === 0) return 'stale'
    emit(change)
    return 'applied'
  }
  const current = conn.stmt<object>(SELECT_BY_KEY[table]).get({ key: changeKey(change) })
  if (current && !incomingWins(changeFromSqlite(table, current), change)) return 'stale'
  try {
    conn.stmt(UPSERT_SQL[table]).run(changeToSqlite(change))
  } catch (e) {
    // A failed statement changes nothing, so the transaction around it commits nothing either.
    if (isUniqueViolation(e)) return 'conflict'
    throw e
  }
  emit(change)
  return 'applied'
}

export function exportRowsNow(conn: SqliteConnection, table: SyncTable, afterKey: string | null, limit: number): RowChange[] {
  const { key } = CODECS[table]
  const rows =
    afterKey === null
      ? conn.stmt<object>(`SELECT * FROM ${table} ORDER BY ${key} LIMIT $n`).all({ n: limit })
      : conn.stmt<object>(`SELECT * FROM ${table} WHERE ${key} > $after ORDER BY ${key} LIMIT $n`).all({ after: afterKey, n: limit })
  return rows.map((row) => changeFromSqlite(table, row))
}

// A snapshot of PostgreSQL is staged in TEMP tables shaped like the live ones (this connection's
// own, kept in a temporary file, never in the database file), page by page, then swapped in by one
// transaction: replaced whole or not at all, without ever holding every row in memory.
const staged = (table: SyncTable) => `temp.snapshot_${table}`

export function beginSnapshotNow(conn: SqliteConnection): void {
  dropSnapshotNow(conn)
  for (const table of SYNC_TABLES) conn.db.run(`CREATE TEMP TABLE snapshot_${table} AS SELECT * FROM main.${table} WHERE 0`)
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
  for (const table of SYNC_TABLES) conn.db.run(`INSERT INTO main.${table} SELECT * FROM ${staged(table)}`)
}

export function dropSnapshotNow(conn: SqliteConnection): void {
  for (const table of SYNC_TABLES) conn.db.run(`DROP TABLE IF EXISTS ${staged(table)}`)
}
