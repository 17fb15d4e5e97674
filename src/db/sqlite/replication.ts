// What the failover layer asks of SQLite beyond Store: last-writer-wins upserts, ordered export and
// the snapshot swap, for the tables the store was opened with, each table's SQL made once per store.
import { incomingWinsSql } from '../merge-sql.ts'
import type { ApplyOutcome, TableRow } from '../store.ts'
import type { PreparedTable, SyncTables } from '../sync-tables.ts'
import type { Emit, SqliteConnection } from './connection.ts'
import { isRefusedRow, isUniqueViolation } from './errors.ts'

// A snapshot of PostgreSQL is staged in TEMP tables shaped like the live ones (this connection's
// own, kept in a temporary file, never in the database file), page by page, then swapped in by one
// transaction: replaced whole or not at all, without ever holding every row in memory.
const staged = (table: string) => `temp.snapshot_${table}`

/** per table: the mirror applies every row PostgreSQL commits through these */
function tableSql({ definition, codec, mergeClause }: PreparedTable) {
  const { name } = definition
  const { key, columns, readColumns } = codec
  const columnList = columns.join(', ')
  const wins = incomingWinsSql(definition)
  const excluded = `(SELECT ${columns.map((c) => `$${c} AS ${c}`).join(', ')}) AS excluded`
  return {
    codec,
    merge: `${codec.insertSql()} ${mergeClause}`,
    // whether the stored row beats the incoming one under the same rule, the incoming row as `excluded`
    storedWins: `SELECT 1 FROM ${name} JOIN ${excluded} ON ${name}.${key} = excluded.${key}${wins === null ? '' : ` WHERE NOT (${wins})`}`,
    // derived columns (an owned table's search_text) are not read: the row they are made from remakes them
    exportFirst: `SELECT ${readColumns.join(', ')} FROM ${name} ORDER BY ${key} LIMIT $n`,
    exportAfter: `SELECT ${readColumns.join(', ')} FROM ${name} WHERE ${key} > $after ORDER BY ${key} LIMIT $n`,
    createStaged: `CREATE TEMP TABLE snapshot_${name} AS SELECT ${columnList} FROM main.${name} WHERE 0`,
    insertStaged: codec.insertSql(staged(name)),
    deleteAll: `DELETE FROM ${name}`,
    swapIn: `INSERT INTO main.${name} (${columnList}) SELECT ${columnList} FROM ${staged(name)}`,
    dropStaged: `DROP TABLE IF EXISTS ${staged(name)}`,
  }
}

export class SqliteReplication {
  private readonly sql: (table: string) => ReturnType<typeof tableSql>

  constructor(
    private readonly conn: SqliteConnection,
    private readonly tables: SyncTables,
  ) {
    this.sql = tables.prepare(tableSql)
  }

  /** runs inside the caller's write transaction; emits the row when it was written */
  applyChangeNow(change: TableRow, emit: Emit): ApplyOutcome {
    const { codec, merge, storedWins } = this.sql(change.table)
    let changes: number
    try {
      changes = this.conn.stmt(merge).run(codec.toSqlite(change.row)).changes
    } catch (e) {
      // A failed statement changes nothing, so the transaction around it commits nothing either.
      if (isUniqueViolation(e)) return 'conflict'
      // SQLite checks the incoming row against the table before it finds the stored one: a row the
      // table refuses (an invalid version, say) is still only stale when the stored row wins anyway.
      if (isRefusedRow(e) && this.conn.stmt(storedWins).get(codec.toSqlite(change.row))) return 'stale'
      throw e
    }
    if (changes === 0) return 'stale'
    emit(change)
    return 'applied'
  }

  exportRowsNow(table: string, afterKey: string | null, limit: number): TableRow[] {
    const { codec, exportFirst, exportAfter } = this.sql(table)
    const rows =
      afterKey === null ? this.conn.stmt<object>(exportFirst).all({ n: limit }) : this.conn.stmt<object>(exportAfter).all({ after: afterKey, n: limit })
    return rows.map((row) => ({ table, row: codec.fromSqlite(row) }))
  }

  beginSnapshotNow(): void {
    this.dropSnapshotNow()
    for (const table of this.tables.names) this.conn.db.run(this.sql(table).createStaged)
  }

  stageSnapshotNow(changes: TableRow[]): void {
    for (const table of this.tables.names) {
      const rows = changes.filter((c) => c.table === table)
      if (rows.length === 0) continue
      const { codec, insertStaged } = this.sql(table)
      // not conn.stmt: a cached statement would outlive the staging table it names
      const insert = this.conn.db.prepare(insertStaged)
      try {
        for (const c of rows) insert.run(codec.toSqlite(c.row))
      } finally {
        insert.finalize()
      }
    }
  }

  /** deletes children before parents and inserts parents before children, for the foreign keys */
  swapInSnapshotNow(): void {
    for (const table of [...this.tables.names].reverse()) this.conn.stmt(this.sql(table).deleteAll).run()
    for (const table of this.tables.names) this.conn.db.run(this.sql(table).swapIn)
  }

  dropSnapshotNow(): void {
    for (const table of this.tables.names) this.conn.db.run(this.sql(table).dropStaged)
  }
}
