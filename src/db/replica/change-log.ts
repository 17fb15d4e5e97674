// The replica's change log: every row written to the SQLite file, in commit order, kept in the table
// replica_log until it is shipped. Filled by triggers, so nothing that writes the file can bypass it:
// user writes in SQLite-only and fallback mode, the rows the mirror copies from PostgreSQL, a snapshot
// copy swapped in, outbox appends and acks, recorded conflicts. The outbox itself is untouched (its
// rows are just one more table to the log), so outbox_pending still means "waiting for PostgreSQL".
//
// The triggers are created on this connection but live in the file, so they fire for the store's own
// connection too, in the same transaction as the write: a write and its log entry commit together.
import type { Database } from 'bun:sqlite'

export type LogOp = 'put' | 'del'

/** one row change: `row` holds every column after a put, the key columns of a delete */
export interface LogEntry {
  seq: number
  tbl: string
  op: LogOp
  row: Record<string, unknown>
  /** commit time, ms since the epoch */
  at: number
}

const TRIGGER_PREFIX = 'replica_log_'
const NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)"

export const LOG_TABLE_SQL = `CREATE TABLE IF NOT EXISTS replica_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl TEXT NOT NULL,
  op  TEXT NOT NULL,
  row TEXT NOT NULL,
  at  INTEGER NOT NULL
) STRICT`

export interface TableShape {
  name: string
  columns: string[]
  key: string[]
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** every table of the file the log covers: all but SQLite's own and the log itself */
export function replicatedTables(db: Database): TableShape[] {
  const names = db
    .query<{ name: string }, []>("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'replica_log' ORDER BY name")
    .all()
    .map((r) => r.name)
  return names.map((name) => {
    const info = db.query<{ name: string; pk: number }, []>(`PRAGMA main.table_info(${quote(name)})`).all()
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)
    return { name, columns: info.map((c) => c.name), key: key.length > 0 ? key : ['rowid'] }
  })
}

const jsonOf = (prefix: 'NEW' | 'OLD', columns: string[]) =>
  `json_object(${columns.map((c) => `'${c.replaceAll("'", "''")}', ${prefix}.${quote(c)}`).join(', ')})`

function triggerSql(t: TableShape): string[] {
  const tbl = `'${t.name.replaceAll("'", "''")}'`
  const insert = (op: LogOp, row: string) => `INSERT INTO replica_log (tbl, op, row, at) VALUES (${tbl}, '${op}', ${row}, ${NOW_MS});`
  const keyChanged = t.key.map((k) => `OLD.${quote(k)} IS NOT NEW.${quote(k)}`).join(' OR ')
  const name = (what: string) => quote(`${TRIGGER_PREFIX}${what}_${t.name}`)
  return [
    `CREATE TRIGGER ${name('ins')} AFTER INSERT ON main.${quote(t.name)} BEGIN ${insert('put', jsonOf('NEW', t.columns))} END`,
    // A key that changes is a delete of the old row and a put of the new one.
    `CREATE TRIGGER ${name('upd')} AFTER UPDATE ON main.${quote(t.name)} BEGIN
       INSERT INTO replica_log (tbl, op, row, at) SELECT ${tbl}, 'del', ${jsonOf('OLD', t.key)}, ${NOW_MS} WHERE ${keyChanged};
       ${insert('put', jsonOf('NEW', t.columns))} END`,
    `CREATE TRIGGER ${name('del')} AFTER DELETE ON main.${quote(t.name)} BEGIN ${insert('del', jsonOf('OLD', t.key))} END`,
  ]
}

function dropTriggersSql(db: Database): string[] {
  return db
    .query<{ name: string }, []>(`SELECT name FROM main.sqlite_master WHERE type = 'trigger' AND name LIKE '${TRIGGER_PREFIX}%'`)
    .all()
    .map((r) => `DROP TRIGGER ${quote(r.name)}`)
}

/**
 * Creates the log table and (re)creates its triggers from the tables as they are now, in one
 * transaction, so a migration that added a column is covered from this start on.
 */
export function installChangeLog(db: Database): void {
  db.transaction(() => {
    db.run(LOG_TABLE_SQL)
    for (const sql of dropTriggersSql(db)) db.run(sql)
    for (const t of replicatedTables(db)) for (const sql of triggerSql(t)) db.run(sql)
  }).immediate()
}

/** without a replica nothing reads the log: the triggers go and the log is emptied */
export function removeChangeLog(db: Database): void {
  db.transaction(() => {
    for (const sql of dropTriggersSql(db)) db.run(sql)
    db.run('DROP TABLE IF EXISTS replica_log')
  }).immediate()
}

interface LogRow {
  seq: number
  tbl: string
  op: LogOp
  row: string
  at: number
}

/** reads and trims the log (on the replicator's own connection) */
export class ChangeLog {
  constructor(private readonly db: Database) {}

  /** the highest seq ever given out: everything committed so far is at or below it */
  highWater(): number {
    const row = this.db.query<{ seq: number }, []>("SELECT seq FROM main.sqlite_sequence WHERE name = 'replica_log'").get()
    return row?.seq ?? 0
  }

  after(seq: number, limit: number): LogEntry[] {
    return this.db
      .query<LogRow, [number, number]>('SELECT seq, tbl, op, row, at FROM replica_log WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(seq, limit)
      .map((r) => ({ seq: r.seq, tbl: r.tbl, op: r.op, row: JSON.parse(r.row) as Record<string, unknown>, at: r.at }))
  }

  /** when the first entry after `seq` committed (one index seek: cheap enough for /health) */
  oldestAfter(seq: number): number | null {
    return this.db.query<{ at: number }, [number]>('SELECT at FROM replica_log WHERE seq > ? ORDER BY seq LIMIT 1').get(seq)?.at ?? null
  }

  /** how many entries wait after `seq`, and when the oldest of them committed */
  pendingAfter(seq: number): { count: number; oldestAt: number | null } {
    const r = this.db.query<{ n: number; oldest: number | null }, [number]>('SELECT count(*) AS n, min(at) AS oldest FROM replica_log WHERE seq > ?').get(seq)!
    return { count: r.n, oldestAt: r.oldest }
  }

  /**
   * Deletes shipped entries. Never waits for the store's connection (same thread: waiting would
   * block the event loop that commits it): when the file is busy it returns false and the next
   * round tries again.
   */
  trim(uptoSeq: number): boolean {
    try {
      this.db.run('DELETE FROM replica_log WHERE seq <= ?', [uptoSeq])
      return true
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('SQLITE_BUSY')) return false
      throw e
    }
  }
}
