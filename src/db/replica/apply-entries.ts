// Applies log entries to a restored SQLite file: a put is an upsert of the whole row on its key, a
// delete removes the row by key. Statements are built per table from the file's own schema.
import type { Database, Statement } from 'bun:sqlite'
import { replicatedTables, type LogEntry, type TableShape } from './change-log.ts'

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

export class EntryApplier {
  private readonly tables: Map<string, TableShape>
  private readonly statements = new Map<string, Statement>()

  constructor(private readonly db: Database) {
    this.tables = new Map(replicatedTables(db).map((t) => [t.name, t]))
  }

  apply(e: LogEntry): void {
    const t = this.tables.get(e.tbl)
    if (!t) throw new Error(`the replica holds changes of table ${e.tbl}, which this database does not have`)
    const cols = e.op === 'put' ? t.columns : t.key
    const values = cols.map((c) => {
      const v = e.row[c]
      return v === undefined ? null : (v as string | number | null)
    })
    this.statement(t, e.op).run(...values)
  }

  private statement(t: TableShape, op: LogEntry['op']): Statement {
    const id = `${op}:${t.name}`
    let s = this.statements.get(id)
    if (!s) {
      const keyMatch = t.key.map((k) => `${quote(k)} = ?`).join(' AND ')
      if (op === 'del') s = this.db.prepare(`DELETE FROM main.${quote(t.name)} WHERE ${keyMatch}`)
      else {
        const set = t.columns.filter((c) => !t.key.includes(c)).map((c) => `${quote(c)} = excluded.${quote(c)}`)
        const upsert = set.length > 0 ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'
        s = this.db.prepare(
          `INSERT INTO main.${quote(t.name)} (${t.columns.map(quote).join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')}) ` +
            `ON CONFLICT (${t.key.map(quote).join(', ')}) ${upsert}`,
        )
      }
      this.statements.set(id, s)
    }
    return s
  }

  finalize(): void {
    for (const s of this.statements.values()) s.finalize()
    this.statements.clear()
  }
}
